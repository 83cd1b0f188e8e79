import Foundation

/// A value shared between threads that a thread can wait on until it changes the way it needs:
/// every change wakes the waiters, which then check their condition again (no polling).
///
/// `@unchecked Sendable`: `value` is read and written only while `condition` is locked.
final class WaitableState<Value: Sendable>: @unchecked Sendable {
  private let condition = NSCondition()
  private var value: Value

  /// Creates the state holding `initial`.
  init(_ initial: Value) { value = initial }

  /// The current value.
  var current: Value {
    condition.lock()
    defer { condition.unlock() }
    return value
  }

  /// Changes the value under the lock and wakes every waiter; returns what `body` returns.
  @discardableResult
  func update<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
    condition.lock()
    defer {
      condition.broadcast()
      condition.unlock()
    }
    return try body(&value)
  }

  /// Waits until `isReady` holds for the value, at most `timeout` (nil: without limit); returns
  /// whether it holds.
  @discardableResult
  func wait(until isReady: (Value) -> Bool, timeout: Duration? = nil) -> Bool {
    let deadline = timeout.map { Date().addingTimeInterval($0.inSeconds) }
    condition.lock()
    defer { condition.unlock() }
    while !isReady(value) {
      if let deadline {
        if !condition.wait(until: deadline) { return isReady(value) }
      } else {
        condition.wait()
      }
    }
    return true
  }
}

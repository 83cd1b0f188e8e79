import Base
import Foundation
import Testing

@Suite struct ThreadNameTests {
  /// Runs `body` on a new thread and returns what it returned.
  private func onNewThread(_ body: @escaping @Sendable () -> String?) -> String? {
    let result = Locked<String?>(nil)
    let done = DispatchSemaphore(value: 0)
    let thread = Thread {
      result.set(body())
      done.signal()
    }
    thread.start()
    done.wait()
    return result.get()
  }

  @Test func theKernelKeepsTheNameAThreadGivesItself() {
    #expect(
      onNewThread {
        nameCurrentThread("iak-training")
        return currentThreadName()
      } == "iak-training")
  }

  @Test func longNamesAreCutAtFifteenBytesOnACharacterBoundary() {
    #expect(
      onNewThread {
        nameCurrentThread("iak-kafka-producer-poll")
        return currentThreadName()
      } == "iak-kafka-produ")
    // "é" takes two bytes: the 14 ASCII bytes and its first byte would make 15, so it goes.
    #expect(
      onNewThread {
        nameCurrentThread("abcdefghijklmné")
        return currentThreadName()
      } == "abcdefghijklmn")
  }
}

/// A value shared with one other thread under a lock.
private final class Locked<Value: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value
  init(_ value: Value) { self.value = value }
  func set(_ newValue: Value) { lock.withLock { value = newValue } }
  func get() -> Value { lock.withLock { value } }
}

import Foundation
import Observability
import Synchronization

/// Runs blocking calls side by side (Kafka round trips that mostly wait: one transaction per
/// partition at a checkpoint), on threads of their own rather than Dispatch's pool, whose width
/// follows the cores and does not grow for threads that wait.
enum BlockingFanOut {
  /// Calls `body(index)` once for every index of `0..<count`, on up to `width` threads (the
  /// calling thread among them), and returns once every call has returned. Indices are handed
  /// out in increasing order; calls may end in any order. `body` must be safe to call from
  /// several threads at once. With `width` or `count` below 2, the calls run in order on the
  /// calling thread.
  static func run(_ count: Int, width: Int, _ body: (Int) -> Void) {
    guard count > 1, width > 1 else {
      for index in 0..<count { body(index) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let work = Work(count: count, body: body)
      let helpers = min(width, count) - 1
      let done = DispatchGroup()
      for _ in 0..<helpers {
        done.enter()
        let thread = Thread.named("iak-fan-out") { [work] in
          work.drain()
          done.leave()
        }
        thread.start()
      }
      work.drain()
      done.wait()
      // The body must not outlive this call (it was not really escaping), and the threads may
      // still hold `work` for a moment after leaving the group.
      work.forget()
    }
  }

  /// Runs `background` on a thread of its own (named `name`, at most 15 bytes on Linux) while
  /// the calling thread runs `foreground`, and returns once both have returned: `background`'s
  /// result and the seconds the calling thread waited for it after `foreground` returned.
  /// Neither closure escapes; what they share must be safe to use from two threads at once.
  static func alongside<T>(
    named name: String, _ background: () -> T, while foreground: () -> Void
  ) -> (result: T, waited: Double) {
    withoutActuallyEscaping(background) { background in
      let work = Background(body: background)
      let done = DispatchSemaphore(value: 0)
      let thread = Thread.named(name) { [work] in
        work.run()
        done.signal()
      }
      thread.start()
      foreground()
      let waiting = ContinuousClock.now
      done.wait()
      let waited = (ContinuousClock.now - waiting).inSeconds
      return (work.take(), waited)
    }
  }

  /// One call on another thread and its result. `@unchecked Sendable`: `run()` is called once,
  /// on the other thread, and `take()` only after it returned (the semaphore orders them).
  private final class Background<T>: @unchecked Sendable {
    private var body: (() -> T)?
    private var result: T?

    init(body: @escaping () -> T) { self.body = body }

    /// Calls the body and keeps its result; drops the body.
    func run() {
      result = body?()
      body = nil
    }

    /// The result (after `run()` returned).
    func take() -> T {
      defer { result = nil }
      return result!
    }
  }

  /// The shared index and body. `@unchecked Sendable`: `body` is safe to call from several
  /// threads at once (the caller's promise), `next` is atomic, and `forget()` runs only after
  /// every `drain()` has returned.
  private final class Work: @unchecked Sendable {
    let count: Int
    private var body: ((Int) -> Void)?
    let next = Atomic<Int>(0)

    init(count: Int, body: @escaping (Int) -> Void) {
      self.count = count
      self.body = body
    }

    /// Takes indices until none is left.
    func drain() {
      guard let body else { return }
      while true {
        let index = next.add(1, ordering: .relaxed).oldValue
        guard index < count else { return }
        body(index)
      }
    }

    /// Drops the body.
    func forget() { body = nil }
  }
}

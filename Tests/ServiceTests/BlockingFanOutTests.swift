import Base
import Foundation
import Synchronization
import Testing

@testable import Service

/// `BlockingFanOut`: every index once, side by side up to the width, in order on the calling
/// thread below a width of 2; `alongside` runs its two calls at once, on two threads.
@Suite struct BlockingFanOutTests {
  @Test func everyIndexIsCalledOnce() {
    for (count, width) in [(0, 4), (1, 4), (5, 1), (7, 3), (20, 8)] {
      let calls = Mutex<[Int]>([])
      BlockingFanOut.run(count, width: width) { index in calls.withLock { $0.append(index) } }
      #expect(calls.withLock { $0.sorted() } == Array(0..<count), "count \(count), width \(width)")
    }
  }

  @Test func callsOverlapUpToTheWidth() {
    // Each call waits until `width` calls have begun: only calls that run at once get there.
    let width = 4
    let begun = Mutex(0)
    let sawAll = Mutex(0)
    BlockingFanOut.run(width, width: width) { _ in
      begun.withLock { $0 += 1 }
      let deadline = Date().addingTimeInterval(10)
      while begun.withLock({ $0 }) < width, Date() < deadline { usleep(1000) }
      if begun.withLock({ $0 }) == width { sawAll.withLock { $0 += 1 } }
    }
    #expect(sawAll.withLock { $0 } == width)
  }

  @Test func belowAWidthOfTwoTheCallsRunInOrderOnTheCallingThread() {
    let caller = Thread.current
    var order: [Int] = []
    var onCaller = true
    BlockingFanOut.run(6, width: 1) { index in
      order.append(index)
      onCaller = onCaller && Thread.current == caller
    }
    #expect(order == Array(0..<6))
    #expect(onCaller)
  }

  @Test func alongsideRunsBothCallsAtOnceAndReturnsTheBackgroundsResult() {
    // Each call waits for the other's sign: both see it only when they run at the same time
    // (one after the other, the first would give up after its 10 s).
    let background = DispatchSemaphore(value: 0)
    let foreground = DispatchSemaphore(value: 0)
    let caller = Thread.current
    var foregroundSawTheOther = false
    var foregroundOnCaller = false
    let (result, waited) = BlockingFanOut.alongside(
      named: "iak-alongside",
      {
        background.signal()
        let sawTheOther = foreground.wait(timeout: .now() + 10) == .success
        return (sawTheOther, Thread.current == caller, currentThreadName())
      },
      while: {
        foreground.signal()
        foregroundSawTheOther = background.wait(timeout: .now() + 10) == .success
        foregroundOnCaller = Thread.current == caller
      })
    #expect(result.0 && foregroundSawTheOther)
    #expect(!result.1 && foregroundOnCaller)
    #expect(result.2 == "iak-alongside")
    #expect(waited >= 0)
  }
}

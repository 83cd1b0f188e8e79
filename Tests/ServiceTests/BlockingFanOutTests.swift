import Foundation
import Synchronization
import Testing

@testable import Service

/// `BlockingFanOut`: every index once, side by side up to the width, in order on the calling
/// thread below a width of 2.
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
}

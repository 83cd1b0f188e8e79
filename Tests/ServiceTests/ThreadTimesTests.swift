import Base
import Foundation
import Testing

@testable import Service

@Suite struct ThreadTimesTests {
  @Test func aNamedThreadsCPUTimeIsWhatItMeasuredItself() throws {
    let before = ThreadTimes.now()
    let spun = DispatchSemaphore(value: 0)
    let release = DispatchSemaphore(value: 0)
    let own = OwnTime()
    let thread = Thread {
      nameCurrentThread("iak-test-spin")
      // About 50 ms of CPU, measured by the thread's own clock.
      var sum = 0.0
      while own.threadSeconds() < 0.05 {
        for value in 0..<10_000 { sum += Double(value).squareRoot() }
      }
      own.record(own.threadSeconds(), sum)
      spun.signal()
      release.wait()
    }
    thread.start()
    spun.wait()
    let times = ThreadTimes.now()
    release.signal()
    let byName = times.secondsByName(since: before)
    let counted = try #require(byName["iak-test-spin"], "\(byName)")
    // The kernel's count goes on until the thread blocks, a little after its own reading.
    #expect(
      counted >= own.seconds - 0.011 && counted <= own.seconds + 0.02, "\(counted) \(own.seconds)")
    // Nothing is counted twice: the same snapshot against itself is no time at all.
    #expect(times.secondsByName(since: times).values.allSatisfy { $0 == 0 })
  }
}

/// A thread's CPU seconds by its own clock, handed to the test.
private final class OwnTime: @unchecked Sendable {
  private let lock = NSLock()
  private var recorded = 0.0
  var seconds: Double { lock.withLock { recorded } }
  func record(_ seconds: Double, _ work: Double) {
    lock.withLock { recorded = work.isNaN ? 0 : seconds }
  }
  func threadSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
  }
}

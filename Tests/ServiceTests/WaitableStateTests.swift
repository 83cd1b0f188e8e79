import Foundation
import Testing

@testable import Service

/// A value another thread waits on: woken by the change it waits for, bounded by its timeout.
@Suite struct WaitableStateTests {
  @Test func aWaiterWakesWhenAnotherThreadMakesItsConditionTrue() {
    let state = WaitableState(0)
    let thread = Thread {
      Thread.sleep(forTimeInterval: 0.05)
      state.update { $0 = 1 }
      state.update { $0 = 2 }
    }
    thread.start()
    let started = ContinuousClock.now
    #expect(state.wait(until: { $0 == 2 }, timeout: .seconds(30)))
    #expect(ContinuousClock.now - started < .seconds(20))
    #expect(state.current == 2)
  }

  @Test func aWaitEndsAtItsTimeoutWhenNothingChanges() {
    let state = WaitableState(false)
    let started = ContinuousClock.now
    #expect(!state.wait(until: { $0 }, timeout: .milliseconds(50)))
    #expect(ContinuousClock.now - started >= .milliseconds(50))
  }

  @Test func aConditionAlreadyTrueReturnsAtOnce() {
    let state = WaitableState(3)
    #expect(state.wait(until: { $0 == 3 }, timeout: .zero))
    #expect(
      state.update { value -> Int in
        value += 1
        return value
      } == 4)
  }
}

import Testing

@testable import Learner

@Suite struct DriftHysteresisTests {
  @Test func firesAfterHoldingAndClearsAfterBeingFalse() {
    var state = DriftHysteresis(fireAfter: 3, clearAfter: 2)
    var changes: [Int: DriftHysteresis.Change] = [:]
    let holds = [true, true, true, true, false, true, false, false, false, false]
    for (position, value) in holds.enumerated() {
      if let change = state.update(holds: value, at: position) { changes[position] = change }
    }
    #expect(changes[3] == DriftHysteresis.Change(transition: .fired, length: 3))
    #expect(changes[8] == DriftHysteresis.Change(transition: .cleared, length: 2))
    #expect(changes.count == 2)
    #expect(!state.isFiring)
  }

  @Test func flappingConditionNeverFiresWhileRunsAreShort() {
    var state = DriftHysteresis(fireAfter: 3, clearAfter: 3)
    for position in 0..<1000 {
      #expect(state.update(holds: position % 6 < 3, at: position) == nil)
    }
  }

  @Test func flappingAfterFiringDoesNotClearOrRefire() {
    var state = DriftHysteresis(fireAfter: 0, clearAfter: 5)
    var transitions: [DriftTransition] = []
    for position in 0..<1000 {
      if let change = state.update(holds: position % 4 == 0, at: position) {
        transitions.append(change.transition)
      }
    }
    #expect(transitions == [.fired])
    for position in 1000..<1010 {
      if let change = state.update(holds: false, at: position) {
        transitions.append(change.transition)
      }
    }
    #expect(transitions == [.fired, .cleared])
  }

  @Test func restartingRunsKeepsTheFiringState() {
    var state = DriftHysteresis(fireAfter: 2, clearAfter: 2)
    _ = state.update(holds: true, at: 10)
    #expect(state.update(holds: true, at: 12)?.transition == .fired)
    _ = state.update(holds: false, at: 13)
    state.restartRuns()
    #expect(state.isFiring)
    #expect(state.falseSince == nil)
    #expect(state.update(holds: false, at: 14) == nil)
    #expect(state.update(holds: false, at: 16)?.transition == .cleared)
  }
}

import Testing

@testable import Service

/// What the rebalance responder remembers of the group, without Kafka.
@Suite struct RebalanceStateTests {
  @Test func onlyTheFirstAssignmentForgetsPartitionsOwnedElsewhere() {
    var state = RebalanceState()
    #expect(!state.hasBeenAssigned)
    #expect(state.assigned() == .forgetPartitionsOwnedElsewhere)
    #expect(state.hasBeenAssigned)
    #expect(state.assigned() == .ignore)
    #expect(state.assigned() == .ignore)
  }

  @Test func aFailedStepStopsTheServiceWithTheNewestFailure() {
    var state = RebalanceState()
    #expect(state.failure == nil)
    let first = ServeFailure(.rebalance, "the state of events/0 could not be read")
    let second = ServeFailure(.rebalance, "the state of events/1 could not be read")
    state.stepFailed(first)
    #expect(state.failure == first)
    state.stepFailed(second)
    #expect(state.failure == second)
  }

  @Test func aFailureBeforeTheFirstAssignmentStillLetsItForgetPartitionsOwnedElsewhere() {
    // Start offsets are asked (and may fail) before the assignment is announced.
    var state = RebalanceState()
    state.stepFailed(ServeFailure(.rebalance, "offsets went backwards"))
    #expect(state.assigned() == .forgetPartitionsOwnedElsewhere)
  }
}

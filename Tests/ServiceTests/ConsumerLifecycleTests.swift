import Testing

@testable import Service

/// The consumer thread's lifecycle, without Kafka: holding and polling again around a full
/// queue, each reason to end, and the events that come after the end (ignored).
@Suite struct ConsumerLifecycleTests {
  static let failure = ServeFailure(.input, "broker gone")

  @Test func aNewConsumerPolls() {
    var lifecycle = ConsumerLifecycle()
    #expect(lifecycle.state == .polling)
    #expect(lifecycle.ending == nil)
    #expect(lifecycle.queueHasRoom(records: 0) == .poll)
    #expect(lifecycle.state == .polling)
  }

  @Test func aFullQueueHoldsTheInputOnceUntilThereIsRoom() {
    var lifecycle = ConsumerLifecycle()
    #expect(lifecycle.queueFilled(records: 10) == .hold(records: 10))
    #expect(lifecycle.state == .holding)
    #expect(lifecycle.queueFilled(records: 12) == .keepHolding)
    #expect(lifecycle.state == .holding)
    #expect(lifecycle.queueHasRoom(records: 3) == .resume(records: 3))
    #expect(lifecycle.state == .polling)
    #expect(lifecycle.queueHasRoom(records: 2) == .poll)
  }

  @Test func eachReasonToEndSaysWhetherQueuedRecordsAreTrained() {
    let training = ServeFailure(.training, "offsets went backwards")
    let rebalance = ServeFailure(.rebalance, "state unreadable")
    let cases:
      [(
        event: (inout ConsumerLifecycle) -> ConsumerLifecycle.EndAction, ending: ConsumerLoop.Ending
      )] = [
        ({ $0.stopRequested() }, .init(reason: "shutdown requested", trainsQueuedRecords: false)),
        (
          { $0.trainingStopped(training) },
          .init(
            reason: "the training thread stopped", trainsQueuedRecords: false, failure: training)
        ),
        (
          { $0.trainingStopped(nil) },
          .init(
            reason: "the training thread stopped", trainsQueuedRecords: false,
            failure: ServeFailure(.training, "the training thread stopped"))
        ),
        (
          { $0.rebalanceFailed(rebalance) },
          .init(reason: "a rebalance failed", trainsQueuedRecords: false, failure: rebalance)
        ),
        ({ $0.inputEnded() }, .init(reason: "end of input", trainsQueuedRecords: true)),
        (
          { $0.inputFailed(Self.failure) },
          .init(reason: "input failed", trainsQueuedRecords: false, failure: Self.failure)
        ),
        (
          { $0.inputIdle(for: .seconds(2)) },
          .init(reason: "input idle for 2.0 seconds", trainsQueuedRecords: true)
        ),
      ]
    for (event, ending) in cases {
      for start in [ConsumerLifecycle.State.polling, .holding] {
        var lifecycle = ConsumerLifecycle()
        if start == .holding { _ = lifecycle.queueFilled(records: 1) }
        #expect(event(&lifecycle) == .end(ending))
        #expect(lifecycle.state == .finished(ending))
        #expect(lifecycle.ending == ending)
      }
    }
  }

  @Test func anEndedConsumerIgnoresEveryEventAndKeepsItsFirstEnding() {
    var lifecycle = ConsumerLifecycle()
    _ = lifecycle.inputEnded()
    let first = lifecycle.state
    #expect(lifecycle.stopRequested() == .ignore)
    #expect(lifecycle.trainingStopped(nil) == .ignore)
    #expect(lifecycle.rebalanceFailed(Self.failure) == .ignore)
    #expect(lifecycle.inputFailed(Self.failure) == .ignore)
    #expect(lifecycle.inputIdle(for: .seconds(1)) == .ignore)
    #expect(lifecycle.queueFilled(records: 5) == .ignore)
    #expect(lifecycle.queueHasRoom(records: 0) == .ignore)
    #expect(lifecycle.state == first)
  }
}

import Testing

@testable import Service

/// The training thread's lifecycle, without Kafka or a pipeline: each transition, the action
/// it asks for, and the events that make no sense in a state (ignored, state unchanged).
@Suite struct TrainingLifecycleTests {
  static let failure = ServeFailure(.training, "a rejected record could not be handed on")
  static let snapshotFailure = ServeFailure(.finalSnapshot, "the final snapshot failed (disk)")

  static func running() -> TrainingLifecycle {
    var lifecycle = TrainingLifecycle()
    _ = lifecycle.started()
    return lifecycle
  }

  static func draining() -> TrainingLifecycle {
    var lifecycle = running()
    _ = lifecycle.stopRequested()
    return lifecycle
  }

  @Test func aNewLoopIsStartingAndActiveWithoutFailure() {
    let lifecycle = TrainingLifecycle()
    #expect(lifecycle.state == .starting)
    #expect(lifecycle.isActive)
    #expect(lifecycle.failure == nil)
  }

  @Test func startingServesOnceThenIgnoresASecondStart() {
    var lifecycle = TrainingLifecycle()
    #expect(lifecycle.started() == .serve)
    #expect(lifecycle.state == .running)
    #expect(lifecycle.started() == .ignore)
    #expect(lifecycle.state == .running)
  }

  @Test func recordsAreTrainedOnlyWhileRunning() {
    #expect(TrainingLifecycle().recordsArrived() == .ignore)
    #expect(Self.running().recordsArrived() == .train)
    #expect(Self.draining().recordsArrived() == .ignore)
  }

  @Test func aStopRequestTakesTheShutdownCheckpoint() {
    var lifecycle = Self.running()
    #expect(lifecycle.stopRequested() == .checkpoint(reason: "shutdown"))
    #expect(lifecycle.state == .draining(.stopRequested(attempt: 1)))
    #expect(lifecycle.isActive)
  }

  @Test func aStopRequestIsIgnoredBeforeTheStartAndWhileDraining() {
    var starting = TrainingLifecycle()
    #expect(starting.stopRequested() == .ignore)
    #expect(starting.state == .starting)
    var draining = Self.draining()
    #expect(draining.stopRequested() == .ignore)
    #expect(draining.state == .draining(.stopRequested(attempt: 1)))
  }

  @Test func aDurableShutdownCheckpointFinishes() {
    var lifecycle = Self.draining()
    let action = lifecycle.finalCheckpointEnded(
      isDurable: true, isMembershipUnconfirmed: false, finalSnapshotFailure: Self.snapshotFailure)
    #expect(action == .end(warnsLocalOnly: false, attempts: 1, failure: nil))
    #expect(lifecycle.state == .finished)
    #expect(!lifecycle.isActive)
    #expect(lifecycle.failure == nil)
  }

  @Test func aShutdownCheckpointThatIsNotDurableIsTakenAgainThenFailsWithTheSnapshotsFailure() {
    var lifecycle = Self.draining()
    for attempt in 1..<TrainingLifecycle.shutdownConfirmAttempts {
      let action = lifecycle.finalCheckpointEnded(
        isDurable: false, isMembershipUnconfirmed: false,
        finalSnapshotFailure: Self.snapshotFailure)
      #expect(action == .checkpointAgain(after: .seconds(1)))
      #expect(lifecycle.state == .draining(.stopRequested(attempt: attempt + 1)))
      #expect(lifecycle.finalCheckpointAttempt == attempt + 1)
      #expect(lifecycle.isActive)
    }
    let last = lifecycle.finalCheckpointEnded(
      isDurable: false, isMembershipUnconfirmed: false,
      finalSnapshotFailure: Self.snapshotFailure)
    #expect(
      last
        == .end(
          warnsLocalOnly: false, attempts: TrainingLifecycle.shutdownConfirmAttempts,
          failure: Self.snapshotFailure))
    #expect(lifecycle.state == .failed(Self.snapshotFailure))
    #expect(lifecycle.failure == Self.snapshotFailure)
    #expect(lifecycle.finalCheckpointAttempt == 0)
  }

  @Test func aShutdownCheckpointThatFailedOnceFinishesWhenTheNextIsDurable() {
    var lifecycle = Self.draining()
    #expect(
      lifecycle.finalCheckpointEnded(
        isDurable: false, isMembershipUnconfirmed: false,
        finalSnapshotFailure: Self.snapshotFailure) == .checkpointAgain(after: .seconds(1)))
    let action = lifecycle.finalCheckpointEnded(
      isDurable: true, isMembershipUnconfirmed: false, finalSnapshotFailure: Self.snapshotFailure)
    #expect(action == .end(warnsLocalOnly: false, attempts: 2, failure: nil))
    #expect(lifecycle.state == .finished)
    #expect(lifecycle.failure == nil)
  }

  @Test func anUnconfirmedMemberAsksAgainUpToTheLimitThenEndsWithAWarning() {
    var lifecycle = Self.draining()
    for attempt in 1..<TrainingLifecycle.shutdownConfirmAttempts {
      let action = lifecycle.finalCheckpointEnded(
        isDurable: true, isMembershipUnconfirmed: true,
        finalSnapshotFailure: Self.snapshotFailure)
      #expect(action == .checkpointAgain(after: .seconds(1)))
      #expect(lifecycle.state == .draining(.stopRequested(attempt: attempt + 1)))
    }
    let last = lifecycle.finalCheckpointEnded(
      isDurable: true, isMembershipUnconfirmed: true, finalSnapshotFailure: Self.snapshotFailure)
    #expect(
      last
        == .end(
          warnsLocalOnly: true, attempts: TrainingLifecycle.shutdownConfirmAttempts,
          failure: nil))
    #expect(lifecycle.state == .finished)
  }

  @Test func aMemberConfirmedOnASecondAttemptFinishesWithoutAWarning() {
    var lifecycle = Self.draining()
    _ = lifecycle.finalCheckpointEnded(
      isDurable: true, isMembershipUnconfirmed: true, finalSnapshotFailure: Self.snapshotFailure)
    let action = lifecycle.finalCheckpointEnded(
      isDurable: true, isMembershipUnconfirmed: false, finalSnapshotFailure: Self.snapshotFailure)
    #expect(action == .end(warnsLocalOnly: false, attempts: 2, failure: nil))
    #expect(lifecycle.state == .finished)
  }

  @Test func anUnconfirmedMemberWhoseSnapshotFailedAsksAgainThenEndsWithTheFailure() {
    var lifecycle = Self.draining()
    for _ in 1..<TrainingLifecycle.shutdownConfirmAttempts {
      #expect(
        lifecycle.finalCheckpointEnded(
          isDurable: false, isMembershipUnconfirmed: true,
          finalSnapshotFailure: Self.snapshotFailure) == .checkpointAgain(after: .seconds(1)))
    }
    let action = lifecycle.finalCheckpointEnded(
      isDurable: false, isMembershipUnconfirmed: true, finalSnapshotFailure: Self.snapshotFailure)
    #expect(
      action
        == .end(
          warnsLocalOnly: true, attempts: TrainingLifecycle.shutdownConfirmAttempts,
          failure: Self.snapshotFailure))
    #expect(lifecycle.state == .failed(Self.snapshotFailure))
  }

  @Test func aTrainingFailureCheckpointsThenFailsWithItWhateverTheCheckpoint() {
    for isDurable in [true, false] {
      var lifecycle = Self.running()
      #expect(lifecycle.trainingFailed(Self.failure) == .checkpoint(reason: "failure"))
      #expect(lifecycle.state == .draining(.failure(Self.failure)))
      #expect(lifecycle.isActive)
      #expect(lifecycle.failure == Self.failure)
      let action = lifecycle.finalCheckpointEnded(
        isDurable: isDurable, isMembershipUnconfirmed: true,
        finalSnapshotFailure: Self.snapshotFailure)
      #expect(action == .end(warnsLocalOnly: false, attempts: 1, failure: nil))
      #expect(lifecycle.state == .failed(Self.failure))
      #expect(!lifecycle.isActive)
    }
  }

  @Test func aFailureIsIgnoredUnlessRunning() {
    var starting = TrainingLifecycle()
    #expect(starting.trainingFailed(Self.failure) == .ignore)
    #expect(starting.state == .starting)
    var draining = Self.draining()
    #expect(draining.trainingFailed(Self.failure) == .ignore)
    #expect(draining.state == .draining(.stopRequested(attempt: 1)))
  }

  @Test func aCheckpointEndIsIgnoredUnlessDraining() {
    var running = Self.running()
    #expect(
      running.finalCheckpointEnded(
        isDurable: false, isMembershipUnconfirmed: false,
        finalSnapshotFailure: Self.snapshotFailure) == .ignore)
    #expect(running.state == .running)
    var finished = Self.draining()
    _ = finished.finalCheckpointEnded(
      isDurable: true, isMembershipUnconfirmed: false, finalSnapshotFailure: Self.snapshotFailure)
    #expect(
      finished.finalCheckpointEnded(
        isDurable: false, isMembershipUnconfirmed: false,
        finalSnapshotFailure: Self.snapshotFailure) == .ignore)
    #expect(finished.state == .finished)
  }

  @Test func anEndedLoopIgnoresEveryEvent() {
    var failed = Self.running()
    _ = failed.trainingFailed(Self.failure)
    _ = failed.finalCheckpointEnded(
      isDurable: true, isMembershipUnconfirmed: false, finalSnapshotFailure: Self.snapshotFailure)
    #expect(failed.started() == .ignore)
    #expect(failed.recordsArrived() == .ignore)
    #expect(failed.stopRequested() == .ignore)
    #expect(failed.trainingFailed(ServeFailure(.training, "another")) == .ignore)
    #expect(failed.state == .failed(Self.failure))
  }
}

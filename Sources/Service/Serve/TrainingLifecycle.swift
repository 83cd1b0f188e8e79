/// The lifecycle of `serve`'s training thread as a value: the state it is in, and what the
/// thread must do at each event. Transitions are pure (no clock, no Kafka, no pipeline): each
/// returns the action the thread then performs, and an event that makes no sense in the current
/// state leaves it unchanged and returns `.ignore`.
///
/// `starting` → `running` → `draining` (the final checkpoint: asked to stop, or a failure) →
/// `finished` or `failed`.
struct TrainingLifecycle: Sendable, Equatable {
  /// Why the thread drains.
  enum Cause: Sendable, Equatable {
    /// A stop request; `attempt` counts the final checkpoints taken so far.
    case stopRequested(attempt: Int)
    /// A failure; the final checkpoint keeps what was trained, and the thread then fails.
    case failure(ServeFailure)
  }

  /// Where the thread is.
  enum State: Sendable, Equatable {
    /// Made; `run()` has not started.
    case starting
    /// Training records and answering requests.
    case running
    /// Taking the final checkpoint.
    case draining(Cause)
    /// Stopped on request with every trained state in a snapshot.
    case finished
    /// Stopped after a failure.
    case failed(ServeFailure)
  }

  /// What `run()` does when it starts.
  enum StartAction: Sendable, Equatable {
    /// Take items from the queue.
    case serve
    /// Nothing: the loop ran already.
    case ignore
  }

  /// What to do with a chunk of records taken from the queue.
  enum RecordsAction: Sendable, Equatable {
    /// Run them through the pipeline.
    case train
    /// Nothing: the loop no longer trains.
    case ignore
  }

  /// What to do after a failure or a stop request.
  enum DrainAction: Sendable, Equatable {
    /// Take the final checkpoint with `reason`.
    case checkpoint(reason: String)
    /// Nothing: the loop is already stopping or stopped.
    case ignore
  }

  /// What to do once a final checkpoint ended.
  enum EndAction: Sendable, Equatable {
    /// Take the final checkpoint again after `pause`: the group did not confirm this process
    /// as a member (a rebalance or an outage may be ending), or the checkpoint failed (a broker
    /// may be answering again by then: a transaction aborted by a timed-out request, a
    /// leader moving).
    case checkpointAgain(after: Duration)
    /// End the loop. `warnsLocalOnly`: say that the final checkpoint stayed in the local
    /// snapshot, after `attempts` checkpoints; `failure`: the final snapshot's failure, to log.
    case end(warnsLocalOnly: Bool, attempts: Int, failure: ServeFailure?)
    /// Nothing: the loop is not taking a final checkpoint.
    case ignore
  }

  /// How many final checkpoints are taken, at most, before the loop exits without publishing
  /// (the group did not confirm) or with the failure of the last one.
  static let shutdownConfirmAttempts = 5
  /// The pause between two of them.
  static let shutdownConfirmPause = Duration.seconds(1)

  /// Where the thread is.
  private(set) var state = State.starting

  /// The number of the final checkpoint about to be taken after a stop request (1 for the
  /// first), or 0 when none is.
  var finalCheckpointAttempt: Int {
    if case .draining(.stopRequested(let attempt)) = state { attempt } else { 0 }
  }

  /// Creates the lifecycle of a loop that has not started.
  init() {}

  /// Whether the thread has not ended yet (also before it started).
  var isActive: Bool {
    switch state {
    case .starting, .running, .draining: true
    case .finished, .failed: false
    }
  }

  /// Why the thread stopped, or is stopping, after a failure.
  var failure: ServeFailure? {
    switch state {
    case .failed(let failure), .draining(.failure(let failure)): failure
    case .starting, .running, .draining(.stopRequested), .finished: nil
    }
  }

  /// `run()` started.
  mutating func started() -> StartAction {
    guard case .starting = state else { return .ignore }
    state = .running
    return .serve
  }

  /// A chunk of records was taken from the queue.
  func recordsArrived() -> RecordsAction {
    guard case .running = state else { return .ignore }
    return .train
  }

  /// Training failed for good: the final checkpoint keeps what was trained, then the loop fails.
  mutating func trainingFailed(_ failure: ServeFailure) -> DrainAction {
    guard case .running = state else { return .ignore }
    state = .draining(.failure(failure))
    return .checkpoint(reason: "failure")
  }

  /// The consumer thread asked the loop to stop.
  mutating func stopRequested() -> DrainAction {
    guard case .running = state else { return .ignore }
    state = .draining(.stopRequested(attempt: 1))
    return .checkpoint(reason: "shutdown")
  }

  /// A final checkpoint ended: `isDurable` when every trained state is in a snapshot on disk,
  /// `isMembershipUnconfirmed` when the newest one stayed in the local snapshot because the
  /// group did not confirm this process as a member; `finalSnapshotFailure` is what a final
  /// snapshot that is not durable reports. After a stop request, a final checkpoint that is not
  /// durable or not confirmed is taken again, `shutdownConfirmAttempts` times at most; after a
  /// failure, once.
  mutating func finalCheckpointEnded(
    isDurable: Bool, isMembershipUnconfirmed: Bool, finalSnapshotFailure: ServeFailure
  ) -> EndAction {
    switch state {
    case .draining(.failure(let failure)):
      // Already logged when it happened; the checkpoint's outcome changes nothing.
      state = .failed(failure)
      return .end(warnsLocalOnly: false, attempts: 1, failure: nil)
    case .draining(.stopRequested(let attempt)):
      if !isDurable || isMembershipUnconfirmed, attempt < Self.shutdownConfirmAttempts {
        state = .draining(.stopRequested(attempt: attempt + 1))
        return .checkpointAgain(after: Self.shutdownConfirmPause)
      }
      let failure = isDurable ? nil : finalSnapshotFailure
      state = failure.map { .failed($0) } ?? .finished
      return .end(warnsLocalOnly: isMembershipUnconfirmed, attempts: attempt, failure: failure)
    case .starting, .running, .finished, .failed:
      return .ignore
    }
  }
}

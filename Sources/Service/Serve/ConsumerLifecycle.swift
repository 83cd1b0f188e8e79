/// The lifecycle of `serve`'s consumer thread as a value: whether it polls, holds the input
/// (the training queue is full) or has ended, and what the thread must do at each event.
/// Transitions are pure (no clock, no Kafka): each returns the action the thread then performs,
/// and an event that makes no sense in the current state leaves it unchanged and returns
/// `.ignore`.
struct ConsumerLifecycle: Sendable, Equatable {
  /// Where the thread is.
  enum State: Sendable, Equatable {
    /// Polling the source.
    case polling
    /// Not polling until the training thread makes room in the queue.
    case holding
    /// Ended, for the reason given.
    case finished(ConsumerLoop.Ending)
  }

  /// What to do when the loop must end.
  enum EndAction: Sendable, Equatable {
    /// Leave the loop with `ending`.
    case end(ConsumerLoop.Ending)
    /// Nothing: it ended already.
    case ignore
  }

  /// What to do when the queue is full.
  enum HoldAction: Sendable, Equatable {
    /// Stop polling: set `iak_consumer_paused` and say so (`records` wait), then wait for room.
    case hold(records: Int)
    /// Wait for room again (already holding).
    case keepHolding
    /// Nothing: it ended.
    case ignore
  }

  /// What to do when the queue has room.
  enum PollAction: Sendable, Equatable {
    /// Poll again: clear `iak_consumer_paused` and say so (`records` wait), then poll.
    case resume(records: Int)
    /// Poll (already polling).
    case poll
    /// Nothing: it ended.
    case ignore
  }

  /// Where the thread is.
  private(set) var state = State.polling

  /// Creates the lifecycle of a consumer about to poll.
  init() {}

  /// Why the loop ended, once it has.
  var ending: ConsumerLoop.Ending? {
    guard case .finished(let ending) = state else { return nil }
    return ending
  }

  /// A stop was asked for (a signal): records already queued are left for the next start.
  mutating func stopRequested() -> EndAction {
    end(ConsumerLoop.Ending(reason: "shutdown requested", trainsQueuedRecords: false))
  }

  /// The training thread ended on its own, with `failure` (nil: no failure was given).
  mutating func trainingStopped(_ failure: ServeFailure?) -> EndAction {
    end(
      ConsumerLoop.Ending(
        reason: "the training thread stopped", trainsQueuedRecords: false,
        failure: failure ?? ServeFailure(.training, "the training thread stopped")))
  }

  /// A rebalance step could not be done safely.
  mutating func rebalanceFailed(_ failure: ServeFailure) -> EndAction {
    end(
      ConsumerLoop.Ending(
        reason: "a rebalance failed", trainsQueuedRecords: false, failure: failure))
  }

  /// The input ended (a file source) and everything read is queued: train it, then stop.
  mutating func inputEnded() -> EndAction {
    end(ConsumerLoop.Ending(reason: "end of input", trainsQueuedRecords: true))
  }

  /// The input failed for good.
  mutating func inputFailed(_ failure: ServeFailure) -> EndAction {
    end(ConsumerLoop.Ending(reason: "input failed", trainsQueuedRecords: false, failure: failure))
  }

  /// No record arrived for `idle` (`--exit-when-idle`), with the lag zero and nothing queued:
  /// train what is queued, then stop.
  mutating func inputIdle(for idle: Duration) -> EndAction {
    end(ConsumerLoop.Ending(reason: "input idle for \(idle)", trainsQueuedRecords: true))
  }

  /// The queue holds `records`, its capacity or more.
  mutating func queueFilled(records: Int) -> HoldAction {
    switch state {
    case .polling:
      state = .holding
      return .hold(records: records)
    case .holding:
      return .keepHolding
    case .finished:
      return .ignore
    }
  }

  /// The queue holds `records`, below its capacity.
  mutating func queueHasRoom(records: Int) -> PollAction {
    switch state {
    case .holding:
      state = .polling
      return .resume(records: records)
    case .polling:
      return .poll
    case .finished:
      return .ignore
    }
  }

  private mutating func end(_ ending: ConsumerLoop.Ending) -> EndAction {
    guard case .finished = state else {
      state = .finished(ending)
      return .end(ending)
    }
    return .ignore
  }
}

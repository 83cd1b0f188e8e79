import HTTP
import Observability
import Synchronization

/// What `/healthz` reports: ready once state is restored, checkpoints are succeeding and
/// consumer lag is within bounds.
public final class HealthState: Sendable {
  private struct State {
    var isRestored = false
    var lag: Int = 0
    var failure: String?
    /// Since when every checkpoint has failed (nil while the newest one succeeded).
    var checkpointsFailingSince: ContinuousClock.Instant?
    var lastCheckpointError: String?
    /// Since when the cluster has not answered the consumer (nil while it answers).
    var brokerUnreachableSince: ContinuousClock.Instant?
    var brokerError: String?
    /// When the request in flight to the cluster was sent (nil when none is in flight).
    var probeSentAt: ContinuousClock.Instant?
  }

  private let state = Mutex(State())
  private let now: @Sendable () -> ContinuousClock.Instant
  /// Lag (events) above which the service is not ready (`health.max_lag`).
  public let maxLag: Int
  /// How long checkpoints may fail in a row before the service is not ready
  /// (`health.max_checkpoint_age`): its state is no longer saved, its offsets no longer
  /// committed, and its lag figures may be frozen (a broker outage fails every checkpoint).
  public let maxCheckpointAge: Duration
  /// How long the cluster may not answer before the service is not ready
  /// (`health.max_broker_silence`): nothing is read, and the lag figures are frozen.
  public let maxBrokerSilence: Duration

  /// Creates a state that is not ready until `markRestored()`; `now` is the clock (tests).
  public init(
    maxLag: Int, maxCheckpointAge: Duration = .seconds(300),
    maxBrokerSilence: Duration = .seconds(60),
    now: @escaping @Sendable () -> ContinuousClock.Instant = { ContinuousClock.now }
  ) {
    self.maxLag = maxLag
    self.maxCheckpointAge = maxCheckpointAge
    self.maxBrokerSilence = maxBrokerSilence
    self.now = now
  }

  /// Records that a request to the cluster was sent; until its answer, the cluster counts as
  /// silent from now.
  public func markProbeStarted() {
    let instant = now()
    state.withLock { $0.probeSentAt = instant }
  }

  /// Records that the cluster answered.
  public func markBrokerReachable() {
    state.withLock { state in
      state.brokerUnreachableSince = nil
      state.brokerError = nil
      state.probeSentAt = nil
    }
  }

  /// Records that the cluster did not answer, with `reason`.
  public func markBrokerUnreachable(_ reason: String) {
    let instant = now()
    state.withLock { state in
      if state.brokerUnreachableSince == nil {
        state.brokerUnreachableSince = state.probeSentAt ?? instant
      }
      state.brokerError = reason
      state.probeSentAt = nil
    }
  }

  /// Records that start-up restored its snapshot and seeked its partitions.
  public func markRestored() { state.withLock { $0.isRestored = true } }

  /// Records the total consumer lag across assigned partitions.
  public func updateLag(_ lag: Int) { state.withLock { $0.lag = lag } }

  /// Records a fatal failure; the service reports it until it exits.
  public func markFailed(_ reason: String) { state.withLock { $0.failure = reason } }

  /// Records a checkpoint that succeeded (or found everything already saved).
  public func markCheckpointed() {
    state.withLock { state in
      state.checkpointsFailingSince = nil
      state.lastCheckpointError = nil
    }
  }

  /// Records a checkpoint that failed with `reason`.
  public func markCheckpointFailed(_ reason: String) {
    let instant = now()
    state.withLock { state in
      if state.checkpointsFailingSince == nil { state.checkpointsFailingSince = instant }
      state.lastCheckpointError = reason
    }
  }

  /// The `/healthz` answer: 200 `ok` when ready, 503 with the reason otherwise.
  public var response: HTTPEndpoint.Response {
    let instant = now()
    return state.withLock { state in
      if let failure = state.failure {
        return HTTPEndpoint.Response(status: 503, body: "failed: \(failure)\n")
      }
      if !state.isRestored {
        return HTTPEndpoint.Response(status: 503, body: "starting: restoring state\n")
      }
      if let since = state.checkpointsFailingSince, instant - since > maxCheckpointAge {
        let seconds = Int((instant - since).inSeconds)
        return HTTPEndpoint.Response(
          status: 503,
          body:
            "checkpoints failing for \(seconds) s (health.max_checkpoint_age "
            + "\(Int(maxCheckpointAge.inSeconds)) s): state is not saved, offsets are not "
            + "committed and lag \(state.lag) may be stale; last error: "
            + "\(state.lastCheckpointError ?? "unknown")\n")
      }
      let silentSince = [state.brokerUnreachableSince, state.probeSentAt].compactMap { $0 }.min()
      if let since = silentSince, instant - since > maxBrokerSilence {
        let seconds = Int((instant - since).inSeconds)
        return HTTPEndpoint.Response(
          status: 503,
          body:
            "brokers unreachable for \(seconds) s (health.max_broker_silence "
            + "\(Int(maxBrokerSilence.inSeconds)) s): nothing is read and lag \(state.lag) is "
            + "stale; last error: \(state.brokerError ?? "no answer yet")\n")
      }
      if state.lag > maxLag {
        return HTTPEndpoint.Response(
          status: 503, body: "catching up: lag \(state.lag) > health.max_lag \(maxLag)\n")
      }
      return HTTPEndpoint.Response(status: 200, body: "ok: lag \(state.lag)\n")
    }
  }
}

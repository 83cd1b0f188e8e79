import Synchronization

/// What `/healthz` reports: ready once state is restored and consumer lag is within bounds.
public final class HealthState: Sendable {
  private struct State {
    var isRestored = false
    var lag: Int = 0
    var failure: String?
  }

  private let state = Mutex(State())
  /// Lag (events) above which the service is not ready (`health.max_lag`).
  public let maxLag: Int

  /// Creates a state that is not ready until `markRestored()`.
  public init(maxLag: Int) { self.maxLag = maxLag }

  /// Records that start-up restored its snapshot and seeked its partitions.
  public func markRestored() { state.withLock { $0.isRestored = true } }

  /// Records the total consumer lag across assigned partitions.
  public func updateLag(_ lag: Int) { state.withLock { $0.lag = lag } }

  /// Records a fatal failure; the service reports it until it exits.
  public func markFailed(_ reason: String) { state.withLock { $0.failure = reason } }

  /// The `/healthz` answer: 200 `ok` when ready, 503 with the reason otherwise.
  public var response: HTTPEndpoint.Response {
    state.withLock { state in
      if let failure = state.failure {
        return HTTPEndpoint.Response(status: 503, body: "failed: \(failure)\n")
      }
      if !state.isRestored {
        return HTTPEndpoint.Response(status: 503, body: "starting: restoring state\n")
      }
      if state.lag > maxLag {
        return HTTPEndpoint.Response(
          status: 503, body: "catching up: lag \(state.lag) > health.max_lag \(maxLag)\n")
      }
      return HTTPEndpoint.Response(status: 200, body: "ok: lag \(state.lag)\n")
    }
  }
}

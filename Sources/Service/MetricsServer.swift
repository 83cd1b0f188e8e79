import Observability

/// Serves `/metrics` (the registry in the Prometheus text format) and `/healthz`.
public enum MetricsServer {
  /// Starts the endpoint on `metrics.listen` when `metrics.enabled`, or returns nil.
  ///
  /// - Throws: `HTTPEndpointError` when the address cannot be bound.
  public static func start(
    configuration: Configuration, registry: MetricsRegistry, health: HealthState, logger: Logger
  ) throws -> HTTPEndpoint? {
    guard configuration.bool("metrics.enabled") else { return nil }
    let (host, port) = configuration.hostPort("metrics.listen")
    let endpoint = try HTTPEndpoint(host: host, port: port) { path in
      switch path {
      case "/metrics":
        HTTPEndpoint.Response(
          status: 200, contentType: "text/plain; version=0.0.4; charset=utf-8",
          body: registry.render())
      case "/healthz":
        health.response
      default:
        HTTPEndpoint.Response(status: 404, body: "not found: try /metrics or /healthz\n")
      }
    }
    logger.info("serving metrics", ["address": "\(host):\(endpoint.port)"])
    return endpoint
  }
}

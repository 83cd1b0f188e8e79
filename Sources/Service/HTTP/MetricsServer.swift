import Foundation
import HTTP
import Observability

/// Serves `/metrics` (the registry in the Prometheus text format) and `/healthz`.
public enum MetricsServer {
  /// Starts the endpoint on `metrics.listen` when `metrics.enabled`, or returns nil; adds
  /// `iak_build_info{version}` and the standard `process_*` metrics to `registry`.
  ///
  /// - Throws: `HTTPEndpointError` when the address cannot be bound.
  public static func start(
    configuration: Configuration, registry: MetricsRegistry, health: HealthState, logger: Logger
  ) throws -> HTTPEndpoint? {
    guard configuration.settings.metrics.enabled else { return nil }
    registry.gauge(
      "iak_build_info", help: "Always 1; the version of iak-stream running.",
      labels: ["version"]
    ).with(CommandLineTool.version).set(1)
    ProcessMetrics.register(in: registry)
    let listen = configuration.settings.metrics.listen
    let (host, port) = (listen.host, listen.port)
    let endpoint = try HTTPEndpoint(host: host, port: port, setting: "metrics.listen") { path in
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

  /// Writes `endpoint`'s bound address as `HOST:PORT` (an IPv6 host in brackets) and a newline
  /// to `path`, atomically, so that a reader never sees half of it (`serve
  /// --metrics-address-file`); writes nothing when metrics are disabled (`endpoint` nil).
  ///
  /// - Throws: `UsageError` naming the file when it cannot be written.
  public static func writeAddress(of endpoint: HTTPEndpoint?, to path: String) throws(UsageError) {
    guard let endpoint else { return }
    let host = endpoint.host.contains(":") ? "[\(endpoint.host)]" : endpoint.host
    do {
      try Data("\(host):\(endpoint.port)\n".utf8).write(
        to: URL(fileURLWithPath: path), options: .atomic)
    } catch {
      throw UsageError(
        "--metrics-address-file \(path): cannot write it (\(error.localizedDescription)); "
          + "pass a path in a writable folder")
    }
  }
}

import Foundation
import HTTP
import Observability
import TestSupport
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

@Suite struct HTTPEndpointTests {
  @Test func servesRoutesOnAnEphemeralLoopbackPort() throws {
    let registry = MetricsRegistry()
    registry.counter("iak_events_total", help: "Events.").with().increment(by: 42)
    let endpoint = try HTTPEndpoint(host: "127.0.0.1", port: 0) { path in
      switch path {
      case "/metrics":
        HTTPEndpoint.Response(
          status: 200, contentType: "text/plain; version=0.0.4", body: registry.render())
      default: HTTPEndpoint.Response(status: 404, body: "not found\n")
      }
    }
    #expect(endpoint.port > 0)
    let (status, body, type) = try HTTPGet.fetch("http://127.0.0.1:\(endpoint.port)/metrics")
    #expect(status == 200)
    #expect(body.contains("iak_events_total 42\n"))
    #expect(type == "text/plain; version=0.0.4")
    let (missing, _, _) = try HTTPGet.fetch("http://127.0.0.1:\(endpoint.port)/nope")
    #expect(missing == 404)
  }

  @Test func addressInUseIsAClearError() throws {
    let first = try HTTPEndpoint(host: "127.0.0.1", port: 0) { _ in .init(status: 200, body: "") }
    #expect {
      _ = try HTTPEndpoint(host: "127.0.0.1", port: first.port) { _ in
        .init(status: 200, body: "")
      }
    } throws: { error in
      "\(error)".contains("cannot listen on 127.0.0.1:\(first.port)")
    }
    #expect(throws: HTTPEndpointError.self) {
      _ = try HTTPEndpoint(host: "example.org", port: 0) { _ in .init(status: 200, body: "") }
    }
  }
}

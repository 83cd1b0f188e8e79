import Foundation
import HTTP
import Observability
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

@Suite struct HTTPEndpointTests {
  static func get(_ url: String) throws -> (Int, String, String?) {
    let done = DispatchSemaphore(value: 0)
    let result = LockedBox<(Int, String, String?)>((0, "", nil))
    let task = URLSession.shared.dataTask(with: URL(string: url)!) { data, response, _ in
      let http = response as? HTTPURLResponse
      result.set(
        (
          http?.statusCode ?? 0, data.map { String(decoding: $0, as: UTF8.self) } ?? "",
          http?.value(forHTTPHeaderField: "Content-Type")
        ))
      done.signal()
    }
    task.resume()
    #expect(done.wait(timeout: .now() + 10) == .success)
    return result.get()
  }

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
    let (status, body, type) = try Self.get("http://127.0.0.1:\(endpoint.port)/metrics")
    #expect(status == 200)
    #expect(body.contains("iak_events_total 42\n"))
    #expect(type == "text/plain; version=0.0.4")
    let (missing, _, _) = try Self.get("http://127.0.0.1:\(endpoint.port)/nope")
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

final class LockedBox<Value: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value
  init(_ value: Value) { self.value = value }
  func set(_ newValue: Value) { lock.withLock { value = newValue } }
  func get() -> Value { lock.withLock { value } }
}

import Foundation
import Observability
import Synchronization
import Testing

@testable import Service

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

@Suite struct MetricsServerTests {
  @Test func healthzIsNotReadyUntilRestoredAndCaughtUp() throws {
    var configuration = Configuration()
    try configuration.apply(override: "metrics.listen=127.0.0.1:0")
    let registry = MetricsRegistry()
    let health = HealthState(maxLag: 100)
    let endpoint = try #require(
      try MetricsServer.start(
        configuration: configuration, registry: registry, health: health, logger: .disabled))
    let url = "http://127.0.0.1:\(endpoint.port)/healthz"
    #expect(try HTTPEndpointTests.get(url).0 == 503)
    health.markRestored()
    health.updateLag(500)
    let lagging = try HTTPEndpointTests.get(url)
    #expect(lagging.0 == 503)
    #expect(lagging.1 == "catching up: lag 500 > health.max_lag 100\n")
    health.updateLag(3)
    #expect(try HTTPEndpointTests.get(url).0 == 200)
    try configuration.apply(override: "metrics.enabled=false")
    #expect(
      try MetricsServer.start(
        configuration: configuration, registry: registry, health: health, logger: .disabled) == nil)
  }
}

@Suite struct HealthStateTests {
  final class Clock: Sendable {
    let now = Mutex(ContinuousClock.now)
    func advance(_ duration: Duration) { now.withLock { $0 += duration } }
  }

  @Test func checkpointsFailingLongerThanTheirMaximumAgeMakeTheServiceNotReady() {
    let clock = Clock()
    let health = HealthState(
      maxLag: 100, maxCheckpointAge: .seconds(60), now: { clock.now.withLock { $0 } })
    #expect(health.response.status == 503)  // starting
    health.markRestored()
    health.updateLag(7)
    #expect(health.response.status == 200)
    #expect(health.response.body == "ok: lag 7\n")
    // A broker outage: every checkpoint fails, the lag figure freezes at 7.
    health.markCheckpointFailed("publishing 3 kernel(s) failed: Local: Message timed out")
    clock.advance(.seconds(59))
    health.markCheckpointFailed(
      "publishing 3 kernel(s) failed: Local: All broker connections are down")
    #expect(health.response.status == 200)
    clock.advance(.seconds(2))
    let stale = health.response
    #expect(stale.status == 503)
    #expect(
      stale.body
        == "checkpoints failing for 61 s (health.max_checkpoint_age 60 s): state is not saved, "
        + "offsets are not committed and lag 7 may be stale; last error: publishing 3 kernel(s) "
        + "failed: Local: All broker connections are down\n")
    // One checkpoint that succeeds ends it.
    health.markCheckpointed()
    #expect(health.response.status == 200)
    health.markCheckpointFailed("disk full")
    clock.advance(.seconds(30))
    #expect(health.response.status == 200)  // failing for 30 s only
  }
}

extension HealthStateTests {
  @Test func aClusterSilentLongerThanAllowedMakesTheServiceNotReady() {
    let clock = Clock()
    let health = HealthState(
      maxLag: 100, maxBrokerSilence: .seconds(10), now: { clock.now.withLock { $0 } })
    health.markRestored()
    health.markBrokerUnreachable("Local: Timed out")
    clock.advance(.seconds(10))
    #expect(health.response.status == 200)
    clock.advance(.seconds(1))
    health.markBrokerUnreachable("Local: All broker connections are down")
    #expect(health.response.status == 503)
    #expect(
      health.response.body
        == "brokers unreachable for 11 s (health.max_broker_silence 10 s): nothing is read and "
        + "lag 0 is stale; last error: Local: All broker connections are down\n")
    health.markBrokerReachable()
    #expect(health.response.status == 200)
    // A request that never comes back counts as silence from when it was sent.
    health.markProbeStarted()
    clock.advance(.seconds(12))
    #expect(health.response.status == 503)
    #expect(health.response.body.hasPrefix("brokers unreachable for 12 s"))
    #expect(health.response.body.hasSuffix("last error: no answer yet\n"))
    health.markBrokerReachable()
    #expect(health.response.status == 200)
  }
}

import Foundation
import HTTP
import Observability
import Synchronization
import TestSupport
import Testing

@testable import Service

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
    #expect(try HTTPGet.fetch(url).0 == 503)
    health.markRestored()
    health.updateLag(500)
    let lagging = try HTTPGet.fetch(url)
    #expect(lagging.0 == 503)
    #expect(lagging.1 == "catching up: lag 500 > health.max_lag 100\n")
    health.updateLag(3)
    #expect(try HTTPGet.fetch(url).0 == 200)
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

extension MetricsServerTests {
  @Test func theBoundAddressIsWrittenForWhoeverStartedTheService() throws {
    var configuration = Configuration()
    try configuration.apply(override: "metrics.listen=127.0.0.1:0")
    let endpoint = try #require(
      try MetricsServer.start(
        configuration: configuration, registry: MetricsRegistry(), health: HealthState(maxLag: 1),
        logger: .disabled))
    let folder = try TemporaryFolder.make("iak-metrics-address")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try MetricsServer.writeAddress(of: endpoint, to: folder + "/address")
    let written = try String(contentsOfFile: folder + "/address", encoding: .utf8)
    #expect(written == "127.0.0.1:\(endpoint.port)\n")
    #expect(try HTTPGet.fetch("http://\(written.dropLast())/metrics").0 == 200)
    #expect(throws: UsageError.self) {
      try MetricsServer.writeAddress(of: endpoint, to: folder + "/missing/address")
    }
  }
}

import Observability
import Stream
import Synchronization
import Testing

@testable import Service

/// Issue 5: `publish.create_topics` makes the kernels and state topics compacted and the alerts
/// and dead-letter topics with default policy; against librdkafka's mock broker (no
/// CreateTopics) it falls back with a warning per missing topic instead of failing.
@Suite struct ServiceTopicsTests {
  static func capturingLogger() -> (Logger, @Sendable () -> [String]) {
    let lines = Mutex<[String]>([])
    let logger = Logger(
      label: "serve", level: .info, sink: { line in lines.withLock { $0.append(line) } })
    return (logger, { lines.withLock { $0 } })
  }

  @Test func theSpecificationsCompactTheKernelsAndStateTopicsOnly() throws {
    let specifications = ServiceTopics.specifications(for: Configuration())
    #expect(
      specifications.map(\.name) == ["iak-kernels", "iak-state", "iak-alerts", "iak-dead-letters"])
    #expect(specifications.map(\.isCompacted) == [true, true, false, false])
    #expect(specifications[0].configuration == ["cleanup.policy": "compact"])
    #expect(specifications[2].configuration.isEmpty)
    #expect(specifications.allSatisfy { $0.partitions == -1 && $0.replicationFactor == -1 })

    var configuration = Configuration()
    for setting in [
      "publish.topic=models", "checkpoint.state_topic=models", "alert.topic=",
      "input.dead_letter_topic=bad-events",
    ] {
      try configuration.apply(override: setting)
    }
    let renamed = ServiceTopics.specifications(for: configuration)
    #expect(renamed.map(\.name) == ["models", "bad-events"])
    #expect(renamed.map(\.isCompacted) == [true, false])
  }

  @Test func withCreateTopicsOffNothingIsAsked() throws {
    var configuration = Configuration()
    try configuration.apply(override: "publish.create_topics=false")
    try configuration.apply(override: "kafka.bootstrap.servers=127.0.0.1:1")  // nobody there
    let (logger, lines) = Self.capturingLogger()
    let statuses = try ServiceTopics.ensure(
      configuration: configuration, logger: logger, timeout: .milliseconds(200))
    #expect(statuses.isEmpty)
    #expect(lines().contains { $0.contains("publish.create_topics is false") })
  }

  @Test func onTheMockBrokerExistingTopicsAreKeptAndMissingOnesReportedNotCreated() throws {
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("iak-kernels", partitions: 2)
    try cluster.createTopic("iak-alerts", partitions: 1)
    var configuration = Configuration()
    try configuration.apply(override: "kafka.bootstrap.servers=\(cluster.bootstrapServers)")
    let (logger, lines) = Self.capturingLogger()
    let statuses = try ServiceTopics.ensure(
      configuration: configuration, logger: logger, timeout: .seconds(2))
    #expect(statuses["iak-kernels"] == .existed)
    #expect(statuses["iak-alerts"] == .existed)
    for name in ["iak-state", "iak-dead-letters"] {
      guard case .notCreated(let reason) = statuses[name] else {
        Issue.record("\(name): \(String(describing: statuses[name]))")
        continue
      }
      #expect(reason.contains("creating topics"), "\(reason)")
    }
    let warnings = lines().filter { $0.contains("could not create topic") }
    #expect(warnings.count == 2, "\(lines())")
    #expect(
      warnings.contains { $0.contains("topic=iak-state") && $0.contains("cleanup.policy=compact") })
    #expect(
      warnings.contains { $0.contains("topic=iak-dead-letters") && $0.contains("broker defaults") })

    // Once every topic exists, nothing is created and nothing is warned about.
    try cluster.createTopic("iak-state", partitions: 1)
    try cluster.createTopic("iak-dead-letters", partitions: 1)
    let (quiet, quietLines) = Self.capturingLogger()
    let again = try ServiceTopics.ensure(
      configuration: configuration, logger: quiet, timeout: .seconds(2))
    #expect(again.count == 4 && again.values.allSatisfy { $0 == .existed })
    #expect(!quietLines().contains { $0.contains("could not create topic") })
  }
}

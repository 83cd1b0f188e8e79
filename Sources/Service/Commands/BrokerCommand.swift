import Foundation
import Stream

extension CommandSpec {
  /// `iak-stream broker`: librdkafka's mock Kafka cluster on loopback.
  public static let broker = CommandSpec(
    name: "broker",
    summary: "Run librdkafka's mock Kafka cluster on loopback for development and tests",
    usage: "iak-stream broker [--brokers N] [--topic NAME:PARTITIONS ...]",
    details: """
      Starts librdkafka's built-in mock cluster: N brokers listening on loopback that speak the
      real Kafka protocol, so kcat, another iak-stream or any Kafka client can use it. Creates the
      topics given, prints one line `bootstrap.servers=HOST:PORT,...` on standard output, and
      serves until SIGTERM or SIGINT. It is in memory and keeps only about 5 MB per partition:
      for development, demos and tests. Production points kafka.bootstrap.servers at a real
      cluster.
      """,
    options: [
      .value("--brokers", "N", "Number of brokers (default 1)"),
      .value(
        "--topic", "NAME:PARTITIONS", "Create a topic (repeatable; default partitions 1)",
        repeatable: true),
    ],
    run: { context in
      let brokers = try context.arguments.int("--brokers", default: 1, in: 1...16)
      var topics: [TopicSpecification] = []
      for text in context.arguments.all("--topic") {
        do {
          topics.append(try TopicSpecification(parsing: text))
        } catch {
          throw UsageError("--topic \(text): \(error)")
        }
      }
      try BrokerCommand.run(
        BrokerCommand.Options(brokers: brokers, topics: topics), logger: context.logger,
        announce: { line in context.output(line + "\n") },  // unbuffered: seen at once
        waitForStop: context.shutdown.waitUntilRequested)
      return 0
    })
}

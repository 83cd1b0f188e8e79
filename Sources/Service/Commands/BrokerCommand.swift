import Foundation
import Stream

extension CommandSpec {
  /// `iak-stream broker`: librdkafka's mock Kafka cluster on loopback.
  public static let broker = CommandSpec(
    name: "broker",
    summary: "Run librdkafka's mock Kafka cluster on loopback for development and tests",
    usage: "iak-stream broker [--brokers N] [--topic NAME:PARTITIONS ...] [--partitions N]",
    details: """
      Starts librdkafka's built-in mock cluster: N brokers listening on loopback that speak the
      real Kafka protocol, so kcat, another iak-stream or any Kafka client can use it. Creates the
      topics given with --topic and every topic the configuration names that --topic does not:
      input.topics with --partitions partitions, and serve's own topics (publish.topic,
      checkpoint.state_topic, alert.topic, input.dead_letter_topic) with one, so that serve
      finds them at once (the mock broker cannot create topics on request). Prints
      `bootstrap.servers=HOST:PORT,...` on standard output, then `#` lines with each topic's
      capacity, and serves until SIGTERM or SIGINT.

      It is in memory and keeps only about 5 MiB of records per partition, silently dropping the
      oldest beyond that: about 30,000 MovieLens events per partition. Produce a large file into
      enough partitions, or while serve runs (produce reports records that were dropped before
      it finished). For development, demos and tests; production points
      kafka.bootstrap.servers at a real cluster.
      """,
    options: [
      .value("--brokers", "N", "Number of brokers (default 1)"),
      .value(
        "--topic", "NAME:PARTITIONS", "Create a topic (repeatable; default partitions 1)",
        repeatable: true),
      .value(
        "--partitions", "N",
        "Partitions of the configured input topics not given with --topic (default 4)"),
    ],
    run: { context in
      let brokers = try context.arguments.int("--brokers", default: 1, in: 1...16)
      let inputPartitions = try context.arguments.int("--partitions", default: 4, in: 1...1024)
      var topics: [TopicSpecification] = []
      for text in context.arguments.all("--topic") {
        do {
          topics.append(try TopicSpecification(parsing: text))
        } catch {
          throw UsageError("--topic \(text): \(error)")
        }
      }
      let configuration = context.configuration
      let configured =
        configuration.settings.input.topics.map {
          TopicSpecification(name: $0, partitions: inputPartitions)
        } + ServiceTopics.specifications(for: configuration)
      for topic in configured where !topics.contains(where: { $0.name == topic.name }) {
        topics.append(topic)
      }
      try MockBroker.run(
        MockBroker.Options(brokers: brokers, topics: topics), logger: context.logger,
        announce: { line in context.output(line + "\n") },  // unbuffered: seen at once
        waitForStop: context.shutdown.waitUntilRequested)
      return 0
    })
}

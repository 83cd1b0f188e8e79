extension CommandSpec {
  /// `iak-stream broker`: run librdkafka's mock Kafka cluster on loopback for development and tests.
  public static let broker = CommandSpec(
    name: "broker",
    summary: "Run librdkafka's mock Kafka cluster on loopback for development and tests",
    usage: "iak-stream broker [options]",
    details: "Not available in this build yet: it is being built under issue 4.",
    options: [],
    run: { context in
      context.logger.error("iak-stream broker is not implemented yet (issue 4)")
      return 1
    })
}

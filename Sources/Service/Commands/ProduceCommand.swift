extension CommandSpec {
  /// `iak-stream produce`: produce a JSON-lines event file to Kafka, keyed by region.
  public static let produce = CommandSpec(
    name: "produce",
    summary: "Produce a JSON-lines event file to Kafka, keyed by region",
    usage: "iak-stream produce [options]",
    details: "Not available in this build yet: it is being built under issue 4.",
    options: [],
    run: { context in
      context.logger.error("iak-stream produce is not implemented yet (issue 4)")
      return 1
    })
}

extension CommandSpec {
  /// `iak-stream serve`: run the long-lived service: consume, join, route, train, monitor, snapshot, publish.
  public static let serve = CommandSpec(
    name: "serve",
    summary: "Run the long-lived service: consume, join, route, train, monitor, snapshot, publish",
    usage: "iak-stream serve [options]",
    details: "Not available in this build yet: it is being built under issue 6.",
    options: [],
    run: { context in
      context.logger.error("iak-stream serve is not implemented yet (issue 6)")
      return 1
    })
}

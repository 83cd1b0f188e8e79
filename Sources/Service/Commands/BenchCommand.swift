extension CommandSpec {
  /// `iak-stream bench`: run a benchmark and print its figures (bench learner | decode | pipeline | soak).
  public static let bench = CommandSpec(
    name: "bench",
    summary: "Run a benchmark and print its figures (bench learner | decode | pipeline | soak)",
    usage: "iak-stream bench [options]",
    details: "Not available in this build yet: it is being built under issue 3.",
    options: [],
    run: { context in
      context.logger.error("iak-stream bench is not implemented yet (issue 3)")
      return 1
    })
}

extension CommandSpec {
  /// `iak-stream score`: score impressions with the backbone and the published kernels.
  public static let score = CommandSpec(
    name: "score",
    summary: "Score impressions with the backbone and the published kernels",
    usage: "iak-stream score [options]",
    details: "Not available in this build yet: it is being built under issue 3.",
    options: [],
    run: { context in
      context.logger.error("iak-stream score is not implemented yet (issue 3)")
      return 1
    })
}

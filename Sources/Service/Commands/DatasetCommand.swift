extension CommandSpec {
  /// `iak-stream dataset`: convert public data sets into events (dataset movielens ...).
  public static let dataset = CommandSpec(
    name: "dataset",
    summary: "Convert public data sets into events (dataset movielens ...)",
    usage: "iak-stream dataset [options]",
    details: "Not available in this build yet: it is being built under issue 2.",
    options: [],
    run: { context in
      context.logger.error("iak-stream dataset is not implemented yet (issue 2)")
      return 1
    })
}

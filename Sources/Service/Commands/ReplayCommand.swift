extension CommandSpec {
  /// `iak-stream replay`: rebuild or audit kernels over a bounded range of history; never commits offsets.
  public static let replay = CommandSpec(
    name: "replay",
    summary: "Rebuild or audit kernels over a bounded range of history; never commits offsets",
    usage: "iak-stream replay [options]",
    details: "Not available in this build yet: it is being built under issue 6.",
    options: [],
    run: { context in
      context.logger.error("iak-stream replay is not implemented yet (issue 6)")
      return 1
    })
}

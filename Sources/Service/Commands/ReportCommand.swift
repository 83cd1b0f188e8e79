extension CommandSpec {
  /// `iak-stream report`: write a self-contained HTML report of kernels, drift and alerts.
  public static let report = CommandSpec(
    name: "report",
    summary: "Write a self-contained HTML report of kernels, drift and alerts",
    usage: "iak-stream report [options]",
    details: "Not available in this build yet: it is being built under issue 7.",
    options: [],
    run: { context in
      context.logger.error("iak-stream report is not implemented yet (issue 7)")
      return 1
    })
}

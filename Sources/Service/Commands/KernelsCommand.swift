extension CommandSpec {
  /// `iak-stream kernels`: list, show, diff, roll back and export versioned kernels.
  public static let kernels = CommandSpec(
    name: "kernels",
    summary: "List, show, diff, roll back and export versioned kernels",
    usage: "iak-stream kernels [options]",
    details: "Not available in this build yet: it is being built under issue 5.",
    options: [],
    run: { context in
      context.logger.error("iak-stream kernels is not implemented yet (issue 5)")
      return 1
    })
}

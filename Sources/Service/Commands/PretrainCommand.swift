extension CommandSpec {
  /// `iak-stream pretrain`: train the backbone on historical events and write model.safetensors + config.json.
  public static let pretrain = CommandSpec(
    name: "pretrain",
    summary: "Train the backbone on historical events and write model.safetensors + config.json",
    usage: "iak-stream pretrain [options]",
    details: "Not available in this build yet: it is being built under issue 3.",
    options: [],
    run: { context in
      context.logger.error("iak-stream pretrain is not implemented yet (issue 3)")
      return 1
    })
}

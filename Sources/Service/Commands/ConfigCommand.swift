extension CommandSpec {
  /// `iak-stream config`: validates the configuration and prints the effective values.
  public static let config = CommandSpec(
    name: "config",
    summary: "Validate the configuration and print the effective values (secrets masked)",
    usage: "iak-stream config [--config PATH] [--set KEY=VALUE ...] [--defaults]",
    details: """
      Reads the configuration exactly as every other command does (defaults, then the file, then
      --set overrides), checks every key and value (librdkafka itself checks each kafka.* key),
      and prints the result with where each value came from. Secrets (passwords, sasl.*, ssl keys, tokens, the webhook URL) are masked.
      Exits 2 on any error, naming the file, line and key, so operators can validate a file
      before deploying it. --defaults prints the documented default file instead.
      """,
    options: [.flag("--defaults", "Print the documented default pipeline.conf")],
    run: { context in
      if context.arguments.has("--defaults") {
        context.output(Configuration.renderDefaults())
      } else {
        context.output(context.configuration.renderEffective())
      }
      return 0
    })
}

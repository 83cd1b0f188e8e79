import Stream

/// One documented configuration key: its name, type, default and meaning.
public struct ConfigKey: Sendable, Equatable {
  /// The dotted name, e.g. `train.batch_max`.
  public let name: String
  /// How the value is parsed and checked.
  public let kind: ConfigKind
  /// The default, as it is written in `pipeline.conf`.
  public let defaultValue: String
  /// What the key means, with its unit.
  public let summary: String

  /// Creates a key.
  public init(_ name: String, _ kind: ConfigKind, _ defaultValue: String, _ summary: String) {
    self.name = name
    self.kind = kind
    self.defaultValue = defaultValue
    self.summary = summary
  }

  /// The concern the key belongs to: the part before the first dot (`train`).
  public var group: String { String(name.prefix { $0 != "." }) }

  /// Whether the value is a secret that must never be printed or logged: librdkafka secrets
  /// (`KafkaConfiguration.isSecret`: passwords, secrets, tokens, `sasl.*`, `ssl.key*`).
  /// URL keys (`isURL`) are not secrets: they are shown without their credentials.
  public static func isSecret(_ name: String) -> Bool {
    KafkaConfiguration.isSecret(name)
  }

  /// Whether the value is a URL that may carry credentials (`user:password@`, `?token=`):
  /// it is printed and logged only through `Redaction.url`.
  public static func isURL(_ name: String) -> Bool {
    name == "alert.webhook"
  }
}

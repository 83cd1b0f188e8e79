internal import CRdKafka

extension KafkaConfiguration {
  /// Whether a librdkafka property holds a secret that must never be printed or logged:
  /// anything named like a password, secret, token or credential, every `sasl.*` setting but
  /// the mechanism and a few Kerberos/OAuth knobs, and the `ssl.key*` ones (keys, keystores and
  /// their passwords). A `kafka.` prefix is ignored.
  public static func isSecret(_ key: String) -> Bool {
    var lower = key.lowercased()
    if lower.hasPrefix("kafka.") { lower.removeFirst("kafka.".count) }
    let words = ["password", "secret", "token", "credential", "private"]
    if words.contains(where: { lower.contains($0) }) { return true }
    if lower.hasPrefix("sasl.") { return !publicSASLSettings.contains(lower) }
    return lower.hasPrefix("ssl.key")
  }

  /// `sasl.*` settings that name a method, not a secret, and are worth showing.
  static let publicSASLSettings: Set<String> = [
    "sasl.mechanism", "sasl.mechanisms", "sasl.kerberos.service.name",
    "sasl.kerberos.min.time.before.relogin", "sasl.oauthbearer.method",
    "sasl.oauthbearer.scope",
  ]

  /// The error for a client handle librdkafka refused to create: its reason, and the security
  /// settings in use (secrets masked), which are the usual cause.
  func creationError(_ client: String, reason: String) -> KafkaError {
    let security = pairs.filter {
      $0.key.hasPrefix("security.") || $0.key.hasPrefix("sasl.") || $0.key.hasPrefix("ssl.")
    }
    var message = "could not create the Kafka \(client): \(reason)"
    if !security.isEmpty {
      message +=
        " (security settings in use: "
        + security.map { "kafka.\($0.key)=\(Self.displayed($0.key, $0.value))" }
        .joined(separator: ", ") + "; check them against librdkafka's CONFIGURATION.md)"
    }
    return KafkaError(code: .invalidConfiguration, message: message)
  }

  /// `value` as it may be shown for `key`: masked when the key is secret.
  public static func displayed(_ key: String, _ value: String) -> String {
    isSecret(key) && !value.isEmpty ? "********" : value
  }

  /// The value librdkafka holds for `key` on a live client handle (its normalised spelling,
  /// e.g. `sasl_ssl` for `SASL_SSL`), or nil for an unknown or unset property.
  static func value(of key: String, on handle: OpaquePointer) -> String? {
    guard let conf = rd_kafka_conf(handle) else { return nil }
    var size = 0
    guard rd_kafka_conf_get(conf, key, nil, &size) == RD_KAFKA_CONF_OK else { return nil }
    var buffer = [CChar](repeating: 0, count: max(size, 1))
    guard rd_kafka_conf_get(conf, key, &buffer, &size) == RD_KAFKA_CONF_OK else { return nil }
    return string(fromBuffer: buffer)
  }
}

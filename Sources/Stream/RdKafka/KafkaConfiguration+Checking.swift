internal import CRdKafka
import Foundation

extension KafkaConfiguration {
  /// Why librdkafka refuses a property: its words, and whether it is the name it does not know
  /// (a plugin loaded by `plugin.library.paths` may still claim such a name) or the value.
  public struct Refusal: Sendable, Equatable {
    /// librdkafka's reason, with a secret's value masked.
    public var reason: String
    /// Whether librdkafka does not know the name (`RD_KAFKA_CONF_UNKNOWN`), rather than refusing
    /// the value.
    public var isUnknownName: Bool
  }

  /// Why librdkafka refuses to set property `key` to `value`, in its own words (with `value`
  /// masked when the key holds a secret), or nil when it accepts it.
  ///
  /// The property is set on a throwaway `rd_kafka_conf_t`, the way a client's configuration is
  /// built, so a misspelt name or a value of the wrong form is found before any client is made.
  /// `plugin.library.paths` is not tried: setting it loads the libraries it names.
  public static func refusal(ofKey key: String, value: String) -> Refusal? {
    guard key != "plugin.library.paths" else { return nil }
    guard let conf = rd_kafka_conf_new() else {
      return Refusal(reason: "librdkafka could not make a configuration", isUnknownName: false)
    }
    defer { rd_kafka_conf_destroy(conf) }
    var errorText = [CChar](repeating: 0, count: 512)
    let result = rd_kafka_conf_set(conf, key, value, &errorText, errorText.count)
    guard result != RD_KAFKA_CONF_OK else { return nil }
    var reason = string(fromBuffer: errorText)
    if isSecret(key) && !value.isEmpty {
      reason = reason.replacingOccurrences(of: value, with: displayed(key, value))
    }
    return Refusal(reason: reason, isUnknownName: result == RD_KAFKA_CONF_UNKNOWN)
  }
}

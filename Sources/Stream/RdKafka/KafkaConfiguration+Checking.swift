internal import CRdKafka
import Foundation

extension KafkaConfiguration {
  /// Why librdkafka refuses to set property `key` to `value`, in its own words (with `value`
  /// masked when the key holds a secret), or nil when it accepts it.
  ///
  /// The property is set on a throwaway `rd_kafka_conf_t`, the way a client's configuration is
  /// built, so a misspelt name or a value of the wrong form is found before any client is made.
  public static func refusal(ofKey key: String, value: String) -> String? {
    guard let conf = rd_kafka_conf_new() else { return "librdkafka could not make a configuration" }
    defer { rd_kafka_conf_destroy(conf) }
    var errorText = [CChar](repeating: 0, count: 512)
    guard rd_kafka_conf_set(conf, key, value, &errorText, errorText.count) != RD_KAFKA_CONF_OK
    else { return nil }
    let reason = string(fromBuffer: errorText)
    guard isSecret(key), !value.isEmpty else { return reason }
    return reason.replacingOccurrences(of: value, with: displayed(key, value))
  }
}

import Base
import Learner
import Observability

extension AlertWebhook {
  /// The `alertname` label of `detector`'s alerts (the shipped Prometheus rules' names).
  public static func alertName(of detector: DriftDetector) -> String {
    switch detector {
    case .collapse: "IAKKernelCollapsed"
    case .harm: "IAKKernelHarm"
    case .loglossDrift, .ctrDrift: "IAKDataDrift"
    case .klRunaway: "IAKKernelKLRunaway"
    case .inactiveBottleneck, .identity, .constantZ: "IAKKernelCollapseSignal"
    }
  }

  /// The one-line `summary` annotation of an alert of `detector` in `domain`.
  static func summary(of detector: DriftDetector, in domain: String) -> String {
    switch detector {
    case .collapse: "IAK kernel for \(domain) has collapsed"
    case .harm: "IAK kernel for \(domain) predicts worse than the backbone"
    case .loglossDrift, .ctrDrift: "Data drift in \(domain) (\(detector.rawValue))"
    case .klRunaway: "IAK kernel for \(domain) memorises (E[KL] runs away)"
    case .inactiveBottleneck, .identity, .constantZ:
      "IAK kernel for \(domain): collapse signal \(detector.rawValue)"
    }
  }

  /// The Alertmanager webhook document (version "4") for one transition.
  public static func payload(
    for event: DriftEvent, action: DriftAction, detail: String?, startsAtMs: Int64,
    settings: Settings
  ) -> String {
    let status = event.transition == .fired ? "firing" : "resolved"
    let labels = [
      ("alertname", alertName(of: event.detector)), ("detector", event.detector.rawValue),
      ("domain", event.domain), ("severity", event.detector.severity.rawValue),
    ]
    let groupLabels = labels.filter { $0.0 != "severity" }
    var description = event.description + "; action: " + action.rawValue
    if let detail { description += " (" + detail + ")" }
    let annotations = [
      ("description", description), ("summary", summary(of: event.detector, in: event.domain)),
    ]
    let endsAt =
      event.transition == .fired
      ? "0001-01-01T00:00:00Z" : RFC3339.string(milliseconds: event.eventTimeMs)
    let alert = object([
      ("status", JSONText.quote(status)),
      ("labels", object(labels.map { ($0.0, JSONText.quote($0.1)) })),
      ("annotations", object(annotations.map { ($0.0, JSONText.quote($0.1)) })),
      ("startsAt", JSONText.quote(RFC3339.string(milliseconds: startsAtMs))),
      ("endsAt", JSONText.quote(endsAt)),
      ("generatorURL", JSONText.quote(settings.externalURL + "/metrics")),
      ("fingerprint", JSONText.quote(fingerprint(of: labels))),
    ])
    let groupKey =
      "{}:{" + groupLabels.map { "\($0.0)=\(JSONText.quote($0.1))" }.joined(separator: ", ")
      + "}"
    return object([
      ("version", "\"4\""),
      ("groupKey", JSONText.quote(groupKey)),
      ("truncatedAlerts", "0"),
      ("status", JSONText.quote(status)),
      ("receiver", JSONText.quote(settings.receiver)),
      ("groupLabels", object(groupLabels.map { ($0.0, JSONText.quote($0.1)) })),
      ("commonLabels", object(labels.map { ($0.0, JSONText.quote($0.1)) })),
      ("commonAnnotations", object(annotations.map { ($0.0, JSONText.quote($0.1)) })),
      ("externalURL", JSONText.quote(settings.externalURL)),
      ("alerts", "[" + alert + "]"),
    ])
  }

  /// A JSON object from already encoded values, in the given order.
  private static func object(_ members: [(String, String)]) -> String {
    "{" + members.map { JSONText.quote($0.0) + ":" + $0.1 }.joined(separator: ",") + "}"
  }

  /// 16 hexadecimal digits identifying a label set: FNV-1a (64 bit) over the labels sorted by
  /// name, each as name, 0xff, value, 0xff (the shape of Prometheus' label-set fingerprint).
  public static func fingerprint(of labels: [(String, String)]) -> String {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for (name, value) in labels.sorted(by: { $0.0 < $1.0 }) {
      for byte in Array(name.utf8) + [0xff] + Array(value.utf8) + [0xff] {
        hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01b3
      }
    }
    let digits = String(hash, radix: 16)
    return String(repeating: "0", count: 16 - digits.count) + digits
  }
}

import Base
import Foundation
import Learner
import Observability
import Stream

/// Turns drift events into alerts: a JSON document on the alerts topic, a log line, and the
/// metrics the shipped Prometheus rules read (`iak_drift_active`, `iak_alerts_total`), and with
/// an `AlertWebhook` a notification to an Alertmanager-compatible receiver.
///
/// The JSON schema (`iak-alert/1`), one object per transition:
/// `{"schema":"iak-alert/1","status":"firing"|"resolved","detector":"collapse",
/// "severity":"info"|"warning"|"critical","domain":"1998-03/4","value":0.0,"threshold":1e-4,
/// "window":{"length":100,"unit":"steps"},"cause":"identity"|null,"kernel_version":3,
/// "step":420,"examples_seen":6720,"event_time_ms":...,"action":"alert"|"deactivate"|...,
/// "action_detail":"kernel version 3 restored from snapshot 12, ..."|null,"summary":"..."}`.
/// `action` is what was done (a rollback with no healthy earlier version becomes `reset`),
/// `action_detail` says what the kernel became. The Kafka key is the domain.
public final class AlertEmitter {
  private let producer: KafkaProducer?
  private let topic: String
  private let logger: Logger
  private let active: MetricFamily?
  private let total: MetricFamily?
  private let actions: MetricFamily?
  private let webhook: AlertWebhook?

  /// Creates an emitter that produces to `topic` through `producer` (nil: log and metrics only)
  /// and posts to `webhook` (nil: none; see `AlertWebhook.make`).
  public init(
    producer: KafkaProducer?, topic: String, logger: Logger, metrics: MetricsRegistry?,
    webhook: AlertWebhook? = nil
  ) {
    self.producer = producer
    self.webhook = webhook
    self.topic = topic
    self.logger = logger
    active = metrics.map(Self.activeFamily)
    total = metrics?.counter(
      "iak_alerts_total", help: "Drift detector firings.", labels: ["domain", "detector"])
    actions = metrics?.counter(
      "iak_drift_actions_total", help: "Actions taken on drift (alert, deactivate, ...).",
      labels: ["domain", "action"])
  }

  /// `iak_drift_active{domain,detector}` in `registry`: 1 while a detector fires for a domain,
  /// 0 once it cleared; the pipeline removes the series of a retired or silent domain.
  public static func activeFamily(in registry: MetricsRegistry) -> MetricFamily {
    registry.gauge(
      "iak_drift_active", help: "1 while a drift detector is firing for a domain.",
      labels: ["domain", "detector"])
  }

  /// The alert document for `event`, as it goes on the topic.
  public static func document(
    for event: DriftEvent, action: DriftAction, detail: String? = nil
  ) -> String {
    let status = event.transition == .fired ? "firing" : "resolved"
    var fields: [String] = [
      "\"schema\":\"iak-alert/1\"",
      "\"status\":\"\(status)\"",
      "\"detector\":\(JSONText.quote(event.detector.rawValue))",
      "\"severity\":\(JSONText.quote(event.detector.severity.rawValue))",
      "\"domain\":\(JSONText.quote(event.domain))",
      "\"value\":\(JSONText.number(event.value))",
      "\"threshold\":\(JSONText.number(event.threshold))",
      "\"window\":{\"length\":\(event.window.length),\"unit\":\"\(event.window.unit.rawValue)\"}",
      "\"cause\":" + (event.cause.map { JSONText.quote($0.rawValue) } ?? "null"),
      "\"kernel_version\":\(event.kernelVersion)",
      "\"step\":\(event.step)",
      "\"examples_seen\":\(event.examplesSeen)",
      "\"event_time_ms\":\(event.eventTimeMs)",
      "\"action\":\(JSONText.quote(action.rawValue))",
    ]
    fields.append("\"action_detail\":" + (detail.map(JSONText.quote) ?? "null"))
    fields.append("\"summary\":\(JSONText.quote(event.description))")
    return "{" + fields.joined(separator: ",") + "}"
  }

  /// Emits one transition with the action taken for it and what that action did (`detail`).
  /// `countsAction` false leaves `iak_drift_actions_total` alone (the action was already counted
  /// with another event of the same observation).
  ///
  /// - Throws: `KafkaError` when the alert could not be handed to the producer (its delivery is
  ///   reported asynchronously and counted by the producer's metrics).
  public func emit(
    _ event: DriftEvent, action: DriftAction, detail: String? = nil, countsAction: Bool = true,
    via transaction: KafkaProducer? = nil
  ) throws(KafkaError) {
    let labels = [event.domain, event.detector.rawValue]
    let document = Self.document(for: event, action: action, detail: detail)
    switch event.transition {
    case .fired:
      active?.with(labels).set(1)
      total?.with(labels).increment()
      // Logged at the detector's severity: an `info` firing (a click-rate shift) is news,
      // not a warning; in a stream of new domains they were most of the log.
      logger.log(
        event.detector.severity == .info ? .info : .warning, "drift detector fired",
        [
          "domain": event.domain, "detector": event.detector.rawValue,
          "action": action.rawValue, "detail": event.description,
          "action_detail": detail ?? "",
        ])
    case .cleared:
      active?.with(labels).set(0)
      logger.info(
        "drift detector cleared", ["domain": event.domain, "detector": event.detector.rawValue])
    }
    if countsAction { actions?.with(event.domain, action.rawValue).increment() }
    webhook?.post(event, action: action, detail: detail)
    try (transaction ?? producer)?.send(
      OutgoingRecord(topic: topic, key: Array(event.domain.utf8), value: Array(document.utf8)))
  }
}

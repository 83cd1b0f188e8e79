import Foundation
import HTTP
import Learner
import Observability
import Synchronization
import Testing

@testable import Service

/// The Alertmanager webhook against a real HTTP receiver on loopback.
@Suite struct AlertWebhookTests {
  static let harm = DriftEvent(
    detector: .harm, domain: "1998-03/east", transition: .fired, value: -0.04,
    threshold: 0.012, window: DriftWindow(length: 2000, unit: .examples), kernelVersion: 12,
    step: 880, examplesSeen: 28_160, eventTimeMs: 889_000_000_000)

  static func webhook(
    _ receiver: WebhookReceiver, registry: MetricsRegistry, retries: Int = 2,
    timeout: Duration = .seconds(10), minimumSeverity: DriftSeverity = .info
  ) throws -> AlertWebhook {
    AlertWebhook(
      settings: AlertWebhook.Settings(
        target: try HTTPPost(url: receiver.url), timeout: timeout, retries: retries,
        backoff: .milliseconds(10), minimumSeverity: minimumSeverity,
        externalURL: "http://127.0.0.1:9464"),
      logger: .disabled, metrics: registry)
  }

  static func json(_ request: WebhookReceiver.Request) throws -> [String: Any] {
    try #require(try JSONSerialization.jsonObject(with: request.body) as? [String: Any])
  }

  @Test func firingAndResolvedArriveInTheAlertmanagerShape() throws {
    let receiver = try WebhookReceiver()
    defer { receiver.stop() }
    let registry = MetricsRegistry()
    let webhook = try Self.webhook(receiver, registry: registry)
    let emitter = AlertEmitter(
      producer: nil, topic: "", logger: .disabled, metrics: registry, webhook: webhook)
    try emitter.emit(Self.harm, action: .rollback, detail: "kernel version 11 restored")
    var cleared = Self.harm
    cleared.transition = .cleared
    cleared.eventTimeMs = 889_000_090_500
    try emitter.emit(cleared, action: .alert)
    #expect(receiver.waitForRequest() && receiver.waitForRequest())

    let requests = receiver.requests
    try #require(requests.count == 2)
    let request = try #require(requests.first)
    #expect(request.method == "POST")
    #expect(request.path == "/hook")
    #expect(request.headers["content-type"] == "application/json")
    #expect(request.headers["host"] == "127.0.0.1:\(receiver.port)")

    let firing = try Self.json(requests[0])
    #expect(firing["version"] as? String == "4")
    #expect(firing["status"] as? String == "firing")
    #expect(firing["receiver"] as? String == "iak-stream")
    #expect(firing["externalURL"] as? String == "http://127.0.0.1:9464")
    #expect(
      firing["groupKey"] as? String
        == #"{}:{alertname="IAKKernelHarm", detector="harm", domain="1998-03/east"}"#)
    let labels = [
      "alertname": "IAKKernelHarm", "detector": "harm", "domain": "1998-03/east",
      "severity": "critical",
    ]
    #expect(firing["commonLabels"] as? [String: String] == labels)
    #expect(
      firing["groupLabels"] as? [String: String]
        == ["alertname": "IAKKernelHarm", "detector": "harm", "domain": "1998-03/east"])
    let alerts = try #require(firing["alerts"] as? [[String: Any]])
    #expect(alerts.count == 1)
    let alert = alerts[0]
    #expect(alert["status"] as? String == "firing")
    #expect(alert["labels"] as? [String: String] == labels)
    #expect(alert["startsAt"] as? String == "1998-03-04T08:26:40Z")
    #expect(alert["endsAt"] as? String == "0001-01-01T00:00:00Z")
    #expect(alert["generatorURL"] as? String == "http://127.0.0.1:9464/metrics")
    // FNV-1a 64 over the sorted labels, computed independently.
    #expect(alert["fingerprint"] as? String == "1ecadb8e3b74d08b")
    let annotations = try #require(alert["annotations"] as? [String: String])
    #expect(
      annotations["summary"] == "IAK kernel for 1998-03/east predicts worse than the backbone")
    let description = try #require(annotations["description"])
    #expect(description.hasPrefix("harm fired in 1998-03/east: value -0.04 vs threshold 0.012"))
    #expect(description.hasSuffix("; action: rollback (kernel version 11 restored)"))
    #expect(firing["commonAnnotations"] as? [String: String] == annotations)

    let resolved = try Self.json(requests[1])
    #expect(resolved["status"] as? String == "resolved")
    let resolvedAlert = try #require((resolved["alerts"] as? [[String: Any]])?.first)
    #expect(resolvedAlert["status"] as? String == "resolved")
    #expect(resolvedAlert["startsAt"] as? String == "1998-03-04T08:26:40Z")
    #expect(resolvedAlert["endsAt"] as? String == "1998-03-04T08:28:10.500Z")
    #expect(resolvedAlert["fingerprint"] as? String == "1ecadb8e3b74d08b")
    #expect(webhook.flush(timeout: .seconds(30)))
    #expect(Self.count("iak_alert_webhook_sent_total", in: registry) == 2)
  }

  static func count(_ name: String, in registry: MetricsRegistry) -> Int {
    registry.render().split(separator: "\n").first { $0.hasPrefix(name + " ") }
      .flatMap { Double($0.split(separator: " ")[1]) }.map { Int($0) } ?? 0
  }

  @Test func aRefusalThatMayPassIsRetriedAndOneThatCannotIsNot() throws {
    let receiver = try WebhookReceiver(script: [.status(503), .status(429), .status(400)])
    defer { receiver.stop() }
    let registry = MetricsRegistry()
    let webhook = try Self.webhook(receiver, registry: registry)
    webhook.post(Self.harm, action: .alert)
    #expect(webhook.flush(timeout: .seconds(30)))
    // 503, 429: retried; 400: final.
    #expect(receiver.requests.count == 3)
    #expect(Self.count("iak_alert_webhook_failures_total", in: registry) == 1)
    #expect(Self.count("iak_alert_webhook_sent_total", in: registry) == 0)

    webhook.post(Self.harm, action: .alert)
    #expect(webhook.flush(timeout: .seconds(30)))
    #expect(receiver.requests.count == 4)
    #expect(Self.count("iak_alert_webhook_sent_total", in: registry) == 1)
  }

  @Test func retriesAreBoundedAndAnUnreachableReceiverIsCountedNotFatal() throws {
    let receiver = try WebhookReceiver(script: Array(repeating: .status(500), count: 10))
    defer { receiver.stop() }
    let registry = MetricsRegistry()
    let webhook = try Self.webhook(receiver, registry: registry, retries: 2)
    webhook.post(Self.harm, action: .alert)
    #expect(webhook.flush(timeout: .seconds(30)))
    #expect(receiver.requests.count == 3)
    #expect(Self.count("iak_alert_webhook_failures_total", in: registry) == 1)

    // Nobody listens on a port the receiver just gave back.
    let closed = try WebhookReceiver()
    let url = closed.url
    closed.stop()
    let unreachable = AlertWebhook(
      settings: AlertWebhook.Settings(
        target: try HTTPPost(url: url), timeout: .seconds(5), retries: 1,
        backoff: .milliseconds(10)),
      logger: .disabled, metrics: registry)
    unreachable.post(Self.harm, action: .alert)
    #expect(unreachable.flush(timeout: .seconds(30)))
    #expect(Self.count("iak_alert_webhook_failures_total", in: registry) == 2)
  }

  @Test func aFailedPostNeverLogsTheURLsCredentialsOrQuery() throws {
    // Nobody listens on a port the receiver just gave back: every attempt fails and is logged.
    let closed = try WebhookReceiver()
    let url = closed.url + "?token=t0ken-secret"
    closed.stop()
    let lines = Mutex<[String]>([])
    let logger = Logger(label: "webhook", level: .trace) { line in
      lines.withLock { $0.append(line) }
    }
    let webhook = AlertWebhook(
      settings: AlertWebhook.Settings(
        target: try HTTPPost(url: url), timeout: .seconds(5), retries: 2,
        backoff: .milliseconds(10)),
      logger: logger, metrics: nil)
    webhook.post(Self.harm, action: .alert)
    #expect(webhook.flush(timeout: .seconds(30)))
    let logged = lines.withLock { $0 }
    #expect(logged.count == 3, "\(logged)")  // two retries, then giving up
    for line in logged {
      #expect(!line.contains("t0ken-secret"), "\(line)")
      #expect(line.contains("?********"), "the URL is not named at all: \(line)")
    }
    // A URL with credentials is refused at start-up without echoing them.
    do {
      _ = try HTTPPost(webhookURL: "http://ops:pw-hook-7@alerts.example/hook")
      Issue.record("a URL with user:password@ was accepted")
    } catch {
      #expect(!error.message.contains("pw-hook-7"), "\(error.message)")
    }
  }

  @Test func postingReturnsWhileTheReceiverIsStillBusy() throws {
    let receiver = try WebhookReceiver(script: [.hold])
    defer { receiver.stop() }
    let registry = MetricsRegistry()
    let webhook = try Self.webhook(receiver, registry: registry, timeout: .seconds(60))
    webhook.post(Self.harm, action: .alert)
    #expect(receiver.waitForRequest())
    // The receiver holds its answer: post returned anyway, the notification is still waiting.
    #expect(webhook.waitingCount == 1)
    #expect(!webhook.flush(timeout: .milliseconds(50)))
    receiver.release()
    #expect(webhook.flush(timeout: .seconds(30)))
    #expect(webhook.waitingCount == 0)
    #expect(Self.count("iak_alert_webhook_sent_total", in: registry) == 1)
  }

  @Test func aFullQueueDropsAndCountsNewNotifications() throws {
    let receiver = try WebhookReceiver(script: [.hold])
    defer { receiver.stop() }
    let registry = MetricsRegistry()
    let webhook = AlertWebhook(
      settings: AlertWebhook.Settings(
        target: try HTTPPost(url: receiver.url), timeout: .seconds(60), capacity: 1),
      logger: .disabled, metrics: registry)
    webhook.post(Self.harm, action: .alert)
    #expect(receiver.waitForRequest())
    webhook.post(Self.harm, action: .alert)
    #expect(Self.count("iak_alert_webhook_dropped_total", in: registry) == 1)
    receiver.release()
    #expect(webhook.flush(timeout: .seconds(30)))
    #expect(receiver.requests.count == 1)
    #expect(Self.count("iak_alert_webhook_sent_total", in: registry) == 1)
  }

  @Test func aReceiverThatNeverAnswersTimesOut() throws {
    let receiver = try WebhookReceiver(script: [.hold])
    defer {
      receiver.release()
      receiver.stop()
    }
    let registry = MetricsRegistry()
    let webhook = try Self.webhook(
      receiver, registry: registry, retries: 0, timeout: .milliseconds(300))
    webhook.post(Self.harm, action: .alert)
    #expect(webhook.flush(timeout: .seconds(30)))
    #expect(Self.count("iak_alert_webhook_failures_total", in: registry) == 1)
    #expect(Self.count("iak_alert_webhook_sent_total", in: registry) == 0)
  }

  @Test func lessSevereAlertsThanConfiguredAreNotPosted() throws {
    let receiver = try WebhookReceiver()
    defer { receiver.stop() }
    let registry = MetricsRegistry()
    let webhook = try Self.webhook(receiver, registry: registry, minimumSeverity: .warning)
    var drift = Self.harm
    drift.detector = .ctrDrift
    webhook.post(drift, action: .alert)
    var collapse = Self.harm
    collapse.detector = .collapse
    collapse.cause = .identity
    webhook.post(collapse, action: .alert)
    #expect(webhook.flush(timeout: .seconds(30)))
    try #require(receiver.requests.count == 1)
    let alert = try #require(
      (try Self.json(receiver.requests[0])["alerts"] as? [[String: Any]])?.first)
    #expect((alert["labels"] as? [String: String])?["alertname"] == "IAKKernelCollapsed")
    #expect((alert["labels"] as? [String: String])?["severity"] == "warning")
  }

  @Test func theURLMustBePlainHTTP() throws {
    for bad in ["https://a/hook", "http://:80/", "http://a:0/", "http://a:99999/", "ftp://a"] {
      #expect(throws: UsageError.self, "\(bad)") { try HTTPPost(webhookURL: bad) }
    }
    var configuration = Configuration()
    #expect(
      try AlertWebhook.make(configuration: configuration, logger: .disabled, metrics: nil) == nil)
    try configuration.apply(override: "alert.webhook=https://example.com/hook")
    #expect(throws: UsageError.self) {
      try AlertWebhook.make(configuration: configuration, logger: .disabled, metrics: nil)
    }
    try configuration.apply(override: "alert.webhook=http://127.0.0.1:9095/hook")
    let made = try #require(
      try AlertWebhook.make(configuration: configuration, logger: .disabled, metrics: nil))
    #expect(made.settings.timeout == .seconds(5))
    #expect(made.settings.retries == 2)
    #expect(made.settings.minimumSeverity == .warning)
    #expect(made.settings.externalURL == "http://127.0.0.1:9464")
  }

  @Test func timesAreRFC3339InUTC() {
    #expect(RFC3339.string(milliseconds: 0) == "1970-01-01T00:00:00Z")
    #expect(RFC3339.string(milliseconds: 889_000_000_000) == "1998-03-04T08:26:40Z")
    #expect(RFC3339.string(milliseconds: 951_782_400_123) == "2000-02-29T00:00:00.123Z")
    #expect(RFC3339.string(milliseconds: -1) == "1969-12-31T23:59:59.999Z")
  }
}

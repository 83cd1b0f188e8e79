import Dispatch
import Foundation
import HTTP
import Learner
import Observability
import Synchronization

/// Posts drift alerts to an Alertmanager-compatible webhook receiver (`alert.webhook`), in the
/// JSON shape Alertmanager's own webhook sends (version "4"), one notification per transition.
///
/// Posting never blocks the caller: `post` puts the notification on a bounded queue that one
/// background thread delivers, each attempt within `alert.webhook_timeout`, retried up to
/// `alert.webhook_retries` times with a doubling pause when the receiver is unreachable, times
/// out, or answers 408, 429 or 5xx (other answers are final). Failures are logged and counted
/// (`iak_alert_webhook_failures_total`); when the queue is full the new notification is dropped,
/// logged and counted (`iak_alert_webhook_dropped_total`). Nothing here can stop training.
///
/// Label mapping, as in `deploy/prometheus/iak-stream.rules.yml`: `alertname` is
/// `IAKKernelCollapsed` (collapse), `IAKKernelHarm` (harm), `IAKDataDrift` (logloss_drift,
/// ctr_drift), `IAKKernelKLRunaway` (kl_runaway) or `IAKKernelCollapseSignal` (the three
/// informational collapse signals); `domain`, `detector`, `severity` as in the metrics. Times
/// are event times: `startsAt` is when the detector fired, `endsAt` when it cleared
/// (`0001-01-01T00:00:00Z` while firing, as Alertmanager writes it).
public final class AlertWebhook: Sendable {
  /// How the webhook posts.
  public struct Settings: Sendable {
    /// The receiver's `http://` URL.
    public var target: HTTPPost
    /// Longest wait for one attempt (connect, send, answer).
    public var timeout: Duration
    /// Attempts after the first one.
    public var retries: Int
    /// Pause before the first retry; it doubles each retry.
    public var backoff: Duration
    /// Transitions of detectors less severe than this are not posted.
    public var minimumSeverity: DriftSeverity
    /// The `receiver` field.
    public var receiver: String
    /// The `externalURL` field and the base of each alert's `generatorURL`.
    public var externalURL: String
    /// Notifications waiting at most; beyond it new ones are dropped (counted).
    public var capacity: Int

    /// Creates settings; see the properties.
    public init(
      target: HTTPPost, timeout: Duration = .seconds(5), retries: Int = 2,
      backoff: Duration = .milliseconds(500), minimumSeverity: DriftSeverity = .info,
      receiver: String = "iak-stream", externalURL: String = "", capacity: Int = 1000
    ) {
      self.target = target
      self.timeout = timeout
      self.retries = retries
      self.backoff = backoff
      self.minimumSeverity = minimumSeverity
      self.receiver = receiver
      self.externalURL = externalURL
      self.capacity = capacity
    }
  }

  /// The settings in use.
  public let settings: Settings
  private let logger: Logger
  private let queue = DispatchQueue(label: "iak-alert-webhook")
  private let group = DispatchGroup()
  private let waiting = Atomic<Int>(0)
  /// When each firing `(domain, detector)` started (event time), for its resolved notification.
  private let firingSince = Mutex<[String: Int64]>([:])
  private let sent: Metric?
  private let failures: Metric?
  private let dropped: Metric?

  /// Creates a webhook poster.
  public init(settings: Settings, logger: Logger, metrics: MetricsRegistry?) {
    self.settings = settings
    self.logger = logger
    sent = metrics?.counter(
      "iak_alert_webhook_sent_total", help: "Alert notifications the webhook receiver accepted."
    ).with()
    failures = metrics?.counter(
      "iak_alert_webhook_failures_total",
      help: "Alert notifications given up after every retry (or refused by the receiver)."
    ).with()
    dropped = metrics?.counter(
      "iak_alert_webhook_dropped_total",
      help: "Alert notifications dropped because too many were waiting."
    ).with()
  }

  /// The webhook configured by `alert.webhook*` and `metrics.listen`, or nil when
  /// `alert.webhook` is empty.
  ///
  /// - Throws: `UsageError` when `alert.webhook` is not an `http://` URL.
  public static func make(
    configuration: Configuration, logger: Logger, metrics: MetricsRegistry?
  ) throws(UsageError) -> AlertWebhook? {
    let url = configuration.settings.alert.webhook.trimmingCharacters(in: .whitespaces)
    guard !url.isEmpty else { return nil }
    let listen = configuration.settings.metrics.listen
    let host = listen.host.contains(":") ? "[\(listen.host)]" : listen.host
    return AlertWebhook(
      settings: Settings(
        target: try HTTPPost(webhookURL: url),
        timeout: configuration.settings.alert.webhookTimeout,
        retries: configuration.settings.alert.webhookRetries,
        minimumSeverity: configuration.settings.alert.webhookMinSeverity,
        externalURL: "http://\(host):\(listen.port)"),
      logger: logger.child("webhook"), metrics: metrics)
  }

  /// Queues the notification of one transition and returns at once (see the type).
  public func post(_ event: DriftEvent, action: DriftAction, detail: String? = nil) {
    guard event.detector.severity >= settings.minimumSeverity else { return }
    let key = event.domain + "\u{0}" + event.detector.rawValue
    let startsAt = firingSince.withLock { since in
      switch event.transition {
      case .fired:
        since[key] = event.eventTimeMs
        return event.eventTimeMs
      case .cleared:
        return since.removeValue(forKey: key) ?? event.eventTimeMs
      }
    }
    let body = Self.payload(
      for: event, action: action, detail: detail, startsAtMs: startsAt, settings: settings)
    let queued = waiting.add(1, ordering: .relaxed).newValue
    guard queued <= settings.capacity else {
      waiting.subtract(1, ordering: .relaxed)
      dropped?.increment()
      logger.error(
        "alert webhook queue full; notification dropped",
        [
          "domain": event.domain, "detector": event.detector.rawValue,
          "waiting": "\(settings.capacity)",
        ])
      return
    }
    group.enter()
    queue.async { [self] in
      deliver(Array(body.utf8), domain: event.domain, detector: event.detector.rawValue)
      waiting.subtract(1, ordering: .relaxed)
      group.leave()
    }
  }

  /// Waits until every queued notification was delivered or given up, at most `timeout`;
  /// returns false if some were still waiting (at shutdown: they are lost, and were logged).
  @discardableResult
  public func flush(timeout: Duration) -> Bool {
    return group.wait(timeout: .now() + timeout.inSeconds) == .success
  }

  /// Notifications queued and not yet delivered or given up.
  public var waitingCount: Int { waiting.load(ordering: .relaxed) }

  private func deliver(_ body: [UInt8], domain: String, detector: String) {
    var pause = settings.backoff
    for attempt in 0...max(0, settings.retries) {
      if attempt > 0 {
        Thread.sleep(forTimeInterval: pause.inSeconds)
        pause *= 2
      }
      let problem: String
      let retriable: Bool
      do {
        let status = try settings.target.send(body, timeout: settings.timeout)
        if (200..<300).contains(status) {
          sent?.increment()
          return
        }
        problem = "the receiver answered \(status)"
        retriable = status == 408 || status == 429 || status >= 500
      } catch {
        problem = error.description
        retriable = true
      }
      if attempt == max(0, settings.retries) || !retriable {
        failures?.increment()
        logger.error(
          "alert webhook notification failed; giving up",
          [
            "domain": domain, "detector": detector, "attempts": "\(attempt + 1)",
            "retriable": retriable ? "yes" : "no", "error": problem,
          ])
        return
      }
      logger.warning(
        "alert webhook notification failed; retrying",
        ["domain": domain, "detector": detector, "attempt": "\(attempt + 1)", "error": problem])
    }
  }
}

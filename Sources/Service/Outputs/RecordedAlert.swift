import Base
import Foundation
import Learner

/// One drift transition as the service records it for people: in snapshot manifests (extras
/// `alerts`, the transitions since the previous snapshot) and in `replay --summary`. The report
/// reads it back from either.
///
/// JSON keys: `domain`, `detector`, `status` (`fired` | `cleared`), `value`, `threshold`,
/// `event_time_ms`, `kernel_version`, and optionally `action` and `action_detail`.
public struct RecordedAlert: Sendable, Equatable, Hashable {
  /// The domain.
  public var domain: String
  /// The detector's name (`DriftDetector.rawValue`).
  public var detector: String
  /// `fired` or `cleared` (`DriftTransition.rawValue`).
  public var status: String
  /// The monitored value (0 when it was not finite).
  public var value: Double
  /// The threshold it was compared with.
  public var threshold: Double
  /// Event time of the observation, in milliseconds since the Unix epoch.
  public var eventTimeMs: Int64
  /// The kernel version observed.
  public var kernelVersion: Int
  /// The action carried out (`DriftAction.rawValue`), if recorded.
  public var action: String?
  /// What the action did, if recorded.
  public var actionDetail: String?

  /// Creates a record; see the properties.
  public init(
    domain: String, detector: String, status: String, value: Double, threshold: Double,
    eventTimeMs: Int64, kernelVersion: Int, action: String? = nil, actionDetail: String? = nil
  ) {
    self.domain = domain
    self.detector = detector
    self.status = status
    self.value = value
    self.threshold = threshold
    self.eventTimeMs = eventTimeMs
    self.kernelVersion = kernelVersion
    self.action = action
    self.actionDetail = actionDetail
  }

  /// Records `event` and what was done about it.
  public init(_ event: DriftEvent, outcome: DriftActionOutcome?) {
    self.init(
      domain: event.domain, detector: event.detector.rawValue,
      status: event.transition.rawValue, value: event.value.isFinite ? event.value : 0,
      threshold: event.threshold.isFinite ? event.threshold : 0, eventTimeMs: event.eventTimeMs,
      kernelVersion: event.kernelVersion, action: outcome?.taken.rawValue,
      actionDetail: outcome?.detail)
  }

  /// Whether the detector started firing (rather than cleared).
  public var isFiring: Bool { status == DriftTransition.fired.rawValue }

  /// The record as a JSON object, keys sorted.
  public var json: JSONValue {
    var object: [String: JSONValue] = [
      "domain": .string(domain), "detector": .string(detector), "status": .string(status),
      "value": .double(value), "threshold": .double(threshold),
      "event_time_ms": .int(eventTimeMs), "kernel_version": .int(kernelVersion),
    ]
    if let action { object["action"] = .string(action) }
    if let actionDetail { object["action_detail"] = .string(actionDetail) }
    return .sortedObject(object)
  }

  /// Reads a record from a JSON object; `domain` fills in a missing `domain` key (the summary
  /// groups alerts by domain). Nil when a required key is missing or of the wrong type.
  public init?(json: JSONValue, domain: String? = nil) {
    guard let domain = json["domain"]?.stringValue ?? domain,
      let detector = json["detector"]?.stringValue, let status = json["status"]?.stringValue,
      let time = json["event_time_ms"]?.int64Value
    else { return nil }
    self.init(
      domain: domain, detector: detector, status: status,
      value: json["value"]?.doubleValue ?? 0, threshold: json["threshold"]?.doubleValue ?? 0,
      eventTimeMs: time, kernelVersion: json["kernel_version"]?.intValue ?? 0,
      action: json["action"]?.stringValue, actionDetail: json["action_detail"]?.stringValue)
  }
}

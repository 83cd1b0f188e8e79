/// Why an event was refused, with where in its bytes the decoder stopped.
public struct EventRejection: Error, Sendable, Equatable, CustomStringConvertible {
  /// The kind of fault; its `rawValue` is the stable `reason` label of
  /// `iak_events_rejected_total`.
  public enum Reason: String, Sendable, CaseIterable {
    /// Not valid JSON (bad syntax, trailing bytes, control characters inside a string, ...).
    case malformedJSON = "malformed_json"
    /// Bytes that are not valid UTF-8, or an escape naming a lone surrogate.
    case invalidUTF8 = "invalid_utf8"
    /// The event is larger than `EventSchema.maxEventBytes`.
    case oversize
    /// Objects or arrays nest deeper than `EventSchema.maxDepth`.
    case tooDeep = "too_deep"
    /// A number that does not fit a finite double (`1e999`) or a `NaN`/`Infinity` literal.
    case nonFiniteNumber = "non_finite_number"
    /// A field the decoder reads appears twice, so its value would be ambiguous.
    case duplicateKey = "duplicate_key"
    /// A required field (type, id, time) is absent.
    case missingField = "missing_field"
    /// A field has the wrong JSON type (e.g. an object where a string belongs).
    case wrongType = "wrong_type"
    /// The time is neither epoch milliseconds nor a valid RFC 3339 time in years 1970-9999.
    case badTimestamp = "bad_timestamp"
    /// A field has the right type but an unusable value (empty id, label other than 0/1).
    case badValue = "bad_value"
    /// The type field names neither an impression nor a click.
    case unknownType = "unknown_type"
    /// A valid event more than `event.max_future` ahead of its partition's event-time clock (or,
    /// for live input in `serve`, of the wall clock): it would move the clock there and turn
    /// every later impression into a negative and every later click into a late one.
    case tooFarFuture = "too_far_future"
    /// A valid event more than `event.max_past` behind its partition's event-time clock.
    case tooFarPast = "too_far_past"
    /// A valid impression that would start a new domain after its partition already started
    /// `domain.max_new_per_day` of them in the current day of its event-time clock.
    case newDomainBudget = "new_domain_budget"
    /// A control record (`ControlRecord`: its value starts `{"iak-control":`) that does not
    /// read as one.
    case badControl = "bad_control"

    /// Whether the decoder finds this fault in an event's bytes (the others are found after
    /// decoding, against the partition's clock and domains: `EventIngest.admit`).
    public var isFoundByDecoder: Bool {
      switch self {
      case .tooFarFuture, .tooFarPast, .newDomainBudget: false
      default: true
      }
    }
  }

  /// The kind of fault.
  public var reason: Reason
  /// The field being read when the fault was found, if any.
  public var field: String?
  /// The byte offset at which the fault was found.
  public var offset: Int

  /// Creates a rejection.
  public init(_ reason: Reason, field: String? = nil, offset: Int) {
    self.reason = reason
    self.field = field
    self.offset = offset
  }

  /// A one-line explanation such as `wrong_type in field 'ts' at byte 42`.
  public var description: String {
    var text = reason.rawValue
    if let field { text += " in field '\(field)'" }
    return text + " at byte \(offset)"
  }
}

import Stream

/// One deliberately bad event of a hostile corpus (see `HostileEvents`), with the verdict the
/// decoder must reach on it.
///
/// Most hostile events are invalid and must be rejected with `expectedRejection` (and so end in
/// the dead-letter topic with that reason). A few are valid JSON carrying hostile text, such as a
/// region named `../../etc` or an id of 50,000 characters: the decoder accepts them and the
/// router must turn their region into a safe domain name.
public struct HostileEvent: Sendable, Equatable {
  /// What kind of damage the event carries.
  public enum Category: String, Sendable, CaseIterable {
    /// Broken JSON syntax: missing braces, trailing commas, comments, single quotes, garbage.
    case malformedJSON = "malformed_json"
    /// A valid event cut short at a random byte.
    case truncated
    /// A field of the wrong JSON type, or a top level that is not an object.
    case wrongType = "wrong_type"
    /// `NaN`, `Infinity`, `-Infinity`, `1e999` where numbers are read or skipped.
    case nonFiniteNumber = "non_finite_number"
    /// An event larger than the schema's limit, up to a 10 MB value.
    case hugeValue = "huge_value"
    /// Arrays or objects nested deeper than the schema allows (up to 30,000 levels).
    case deepNesting = "deep_nesting"
    /// Bytes that are not UTF-8 inside strings, or escapes naming lone surrogates.
    case invalidUTF8 = "invalid_utf8"
    /// Raw control characters inside strings or between tokens.
    case controlCharacters = "control_characters"
    /// Raw NUL bytes inside strings, between tokens or after the event.
    case nulBytes = "nul_bytes"
    /// A required field left out.
    case missingField = "missing_field"
    /// A time that is not epoch milliseconds nor RFC 3339 in years 1970-9999.
    case badTimestamp = "bad_timestamp"
    /// An empty id, or a label other than 0/1.
    case badValue = "bad_value"
    /// A type that is neither impression nor click.
    case unknownType = "unknown_type"
    /// A field the decoder reads, given twice.
    case duplicateKey = "duplicate_key"
    /// Valid JSON with a region such as `../../etc`, `..`, `/` or an escaped NUL (accepted).
    case hostileRegion = "hostile_region"
    /// Valid JSON with a region of 5,000 characters (accepted).
    case longRegion = "long_region"
    /// Valid JSON with a 40-digit or 50,000-character id (accepted).
    case hugeID = "huge_id"

    /// Whether events of this category are valid and must be accepted.
    public var isAccepted: Bool {
      self == .hostileRegion || self == .longRegion || self == .hugeID
    }
  }

  /// The event's bytes (never containing a line feed, so a corpus is a JSON-lines file).
  public var bytes: [UInt8]
  /// The kind of damage.
  public var category: Category
  /// The reason the decoder must reject the event with, or nil when it must accept it.
  public var expectedRejection: EventRejection.Reason?

  /// Creates a hostile event.
  public init(bytes: [UInt8], category: Category, expectedRejection: EventRejection.Reason?) {
    self.bytes = bytes
    self.category = category
    self.expectedRejection = expectedRejection
  }

  /// The label written in corpus summaries: the expected rejection reason, or `accepted`.
  public var verdict: String { expectedRejection?.rawValue ?? "accepted" }
}

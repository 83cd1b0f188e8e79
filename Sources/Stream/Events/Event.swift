/// One decoded event: an impression (something was shown) or a click on an impression.
///
/// Times are event times in epoch milliseconds; nothing here reads the wall clock.
public struct Event: Sendable, Equatable {
  /// What happened.
  public enum Kind: Sendable, Equatable {
    /// An item was shown; `id` names this impression.
    case impression
    /// An impression was clicked; `id` names the clicked impression.
    case click
  }

  /// One categorical feature: a field name and its value as text (integers in decimal).
  public struct Feature: Sendable, Equatable {
    /// The feature's name, e.g. `user` or `cat`.
    public var name: String
    /// The feature's value; integers appear as their decimal text.
    public var value: String

    /// Creates a feature `name=value`.
    public init(name: String, value: String) {
      self.name = name
      self.value = value
    }
  }

  /// Whether this is an impression or a click.
  public var kind: Kind
  /// The impression id (for a click, the id of the impression it clicks).
  public var id: String
  /// Event time in milliseconds since the Unix epoch.
  public var timeMilliseconds: Int64
  /// The region the event came from, if it carried one.
  public var region: String?
  /// Categorical features in the order they appeared (top-level fields, then the features object).
  public var categorical: [Feature]
  /// Numeric features declared in the schema.
  public var numeric: [String: Double]
  /// A pre-joined label on an impression: `true` clicked, `false` not, `nil` unknown yet.
  public var label: Bool?
  /// Whether the event was made up (for example a sampled negative for load tests).
  public var isSynthetic: Bool
  /// Top-level fields the decoder skipped because no setting names them (not part of the
  /// event's value: not compared, stored or written; for warnings about unused fields).
  public var unreadFields: [String] = []

  /// Creates an event.
  public init(
    kind: Kind, id: String, timeMilliseconds: Int64, region: String? = nil,
    categorical: [Feature] = [], numeric: [String: Double] = [:], label: Bool? = nil,
    isSynthetic: Bool = false
  ) {
    self.kind = kind
    self.id = id
    self.timeMilliseconds = timeMilliseconds
    self.region = region
    self.categorical = categorical
    self.numeric = numeric
    self.label = label
    self.isSynthetic = isSynthetic
  }

  /// Events are equal when everything but `unreadFields` is.
  public static func == (lhs: Event, rhs: Event) -> Bool {
    lhs.kind == rhs.kind && lhs.id == rhs.id && lhs.timeMilliseconds == rhs.timeMilliseconds
      && lhs.region == rhs.region && lhs.categorical == rhs.categorical
      && lhs.numeric == rhs.numeric && lhs.label == rhs.label
      && lhs.isSynthetic == rhs.isSynthetic
  }

  /// Returns the value of the categorical feature `name`, if present.
  public func feature(_ name: String) -> String? {
    categorical.first { $0.name == name }?.value
  }
}

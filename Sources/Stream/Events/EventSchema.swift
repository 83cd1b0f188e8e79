/// Field names and limits that say how an event looks on the wire (`event.*` in pipeline.conf).
///
/// The defaults describe the documented shape:
/// `{"type":"impression","id":"imp-1","ts":1700000000123,"region":"sh","user":"u1","item":"i9",
/// "features":{"cat":"noodles"},"click":1}`.
public struct EventSchema: Sendable, Equatable {
  /// The field holding the event type (`impression` or `click`).
  public var typeField: String
  /// The field holding the impression id (a click carries the id of its impression).
  public var idField: String
  /// The field holding the event time: epoch milliseconds or an RFC 3339 string.
  public var timeField: String
  /// The field holding the region the event came from.
  public var regionField: String
  /// The field holding a pre-joined label on an impression (0/1 or false/true).
  public var labelField: String
  /// The field holding the object of further features.
  public var featuresField: String
  /// The field that marks synthetic events (a boolean), such as sampled negatives.
  public var syntheticField: String
  /// The value of `typeField` for impressions.
  public var impressionType: String
  /// The value of `typeField` for clicks.
  public var clickType: String
  /// Top-level fields read as categorical features (strings or integers), e.g. user and item.
  public var categoricalFields: [String]
  /// Feature names (top level or inside `featuresField`) whose values are numbers.
  public var numericFeatures: Set<String>
  /// The largest accepted event, in bytes of UTF-8.
  public var maxEventBytes: Int
  /// The deepest accepted nesting of objects and arrays; the event object itself is depth 1.
  /// Values above 256 are treated as 256.
  public var maxDepth: Int

  /// Creates a schema; every argument defaults to the documented event shape.
  public init(
    typeField: String = "type", idField: String = "id", timeField: String = "ts",
    regionField: String = "region", labelField: String = "click",
    featuresField: String = "features", syntheticField: String = "synthetic",
    impressionType: String = "impression", clickType: String = "click",
    categoricalFields: [String] = ["user", "item"], numericFeatures: Set<String> = [],
    maxEventBytes: Int = 65_536, maxDepth: Int = 8
  ) {
    self.typeField = typeField
    self.idField = idField
    self.timeField = timeField
    self.regionField = regionField
    self.labelField = labelField
    self.featuresField = featuresField
    self.syntheticField = syntheticField
    self.impressionType = impressionType
    self.clickType = clickType
    self.categoricalFields = categoricalFields
    self.numericFeatures = numericFeatures
    self.maxEventBytes = maxEventBytes
    self.maxDepth = maxDepth
  }
}

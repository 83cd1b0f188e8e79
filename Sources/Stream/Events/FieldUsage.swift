/// Watches the first impressions of a stream for fields that are configured but never there,
/// and fields that are there but used by nothing: a new event source otherwise trains on
/// features that all hash as missing, without a word.
public struct FieldUsage: Sendable {
  /// Fields the model reads: `backbone.fields` (hashed) and `event.numeric_fields`.
  public let configured: [String]
  /// How many impressions are looked at before the verdict.
  public let sampleSize: Int
  /// Impressions looked at so far.
  public private(set) var impressions = 0
  /// Whether the verdict was given (it is given once).
  public private(set) var isReported = false
  private var present: [String: Int] = [:]
  /// Fields seen that no setting reads, with whether they were top-level (skipped by the
  /// decoder) and in how many impressions.
  private var unused: [String: (topLevel: Bool, count: Int)] = [:]

  /// Watches for `configured` fields over the first `sampleSize` impressions.
  public init(configured: [String], sampleSize: Int = 1_000) {
    self.configured = configured
    self.sampleSize = max(1, sampleSize)
  }

  /// Looks at one event; returns the warnings (possibly none) once, when the sample is complete.
  public mutating func observe(_ event: Event) -> [String]? {
    guard !isReported, event.kind == .impression else { return nil }
    impressions += 1
    for field in configured where event.feature(field) != nil || event.numeric[field] != nil {
      present[field, default: 0] += 1
    }
    for feature in event.categorical where !configured.contains(feature.name) {
      unused[feature.name, default: (false, 0)].count += 1
    }
    for name in event.unreadFields {
      unused[name, default: (true, 0)].count += 1
    }
    return impressions >= sampleSize ? report() : nil
  }

  /// The verdict on what was seen so far (at the end of a short input); nil when it was given
  /// already or no impression was seen.
  public mutating func report() -> [String]? {
    guard !isReported, impressions > 0 else { return nil }
    isReported = true
    var warnings: [String] = []
    for field in configured where present[field, default: 0] == 0 {
      warnings.append(
        "configured field '\(field)' is in none of the first \(impressions) impressions: every "
          + "event hashes it as missing; check its name in backbone.fields or "
          + "event.numeric_fields (and event.categorical_fields for a top-level field)")
    }
    for (name, seen) in unused.sorted(by: { $0.key < $1.key }) {
      let fix =
        seen.topLevel
        ? "add it to event.categorical_fields and backbone.fields, or to event.numeric_fields"
        : "add it to backbone.fields, or to event.numeric_fields"
      warnings.append(
        "field '\(name)' is in \(seen.count) of the first \(impressions) impressions but no "
          + "setting uses it: \(fix) to learn from it")
    }
    return warnings
  }
}

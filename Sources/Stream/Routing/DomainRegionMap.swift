import Foundation

/// Maps raw region values to areas (`domain.region_map`), e.g. zip digits to regions.
///
/// Written as comma-separated `value:area` pairs; a value ending in `*` matches every raw value
/// with that prefix (the longest prefix wins; exact values beat prefixes):
/// `0:east,1:east,2:east,8:west,9:west,V*:canada`.
public struct DomainRegionMap: Sendable, Equatable {
  /// A prefix rule: raw values starting with `prefix` map to `area`.
  public struct PrefixRule: Sendable, Equatable {
    /// The prefix raw values must start with.
    public var prefix: String
    /// The area they map to.
    public var area: String
  }

  /// Exact raw values and their areas.
  public private(set) var exact: [String: String] = [:]
  /// Prefix rules, longest prefix first.
  public private(set) var prefixRules: [PrefixRule] = []

  /// Parses a `domain.region_map` value.
  ///
  /// - Throws: `DomainSpecError` naming the entry that is not `value:area`, is repeated, or
  ///   whose area is not a safe name (letters, digits, `.`, `_`, `-`).
  public init(parsing spec: String, key: String = "domain.region_map") throws(DomainSpecError) {
    for entry in spec.split(separator: ",") {
      let trimmed = entry.trimmingCharacters(in: .whitespaces)
      if trimmed.isEmpty { continue }
      let parts = trimmed.split(separator: ":", maxSplits: 1).map {
        $0.trimmingCharacters(in: .whitespaces)
      }
      guard parts.count == 2, !parts[0].isEmpty, !parts[1].isEmpty else {
        throw DomainSpecError(
          "\(key): entry '\(trimmed)' is not 'value:area'; write e.g. '0:east,9:west,V*:canada'")
      }
      guard DomainName.isSafe(parts[1]) else {
        throw DomainSpecError(
          "\(key): area '\(parts[1])' must be at most \(DomainName.maxLength) letters, digits, "
            + "'.', '_' or '-' and not start with '.'")
      }
      if parts[0].hasSuffix("*") {
        let prefix = String(parts[0].dropLast())
        guard !prefixRules.contains(where: { $0.prefix == prefix }) else {
          throw DomainSpecError("\(key): prefix '\(parts[0])' appears twice")
        }
        prefixRules.append(PrefixRule(prefix: prefix, area: parts[1]))
      } else {
        guard exact[parts[0]] == nil else {
          throw DomainSpecError("\(key): value '\(parts[0])' appears twice")
        }
        exact[parts[0]] = parts[1]
      }
    }
    prefixRules.sort { ($0.prefix.utf8.count, $1.prefix) > ($1.prefix.utf8.count, $0.prefix) }
  }

  /// The area of `raw`, or `nil` if no entry matches.
  public func area(for raw: String) -> String? {
    if let area = exact[raw] { return area }
    return prefixRules.first { raw.hasPrefix($0.prefix) }?.area
  }
}

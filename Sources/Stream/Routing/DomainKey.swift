/// The name of a domain: a window part and a region part, such as `1998-03/west` or `s1000/east`.
///
/// Both parts are safe names (see `DomainName`), so the key can be a tensor name prefix, a Kafka
/// key and a file name part.
public struct DomainKey: Sendable, Hashable, Comparable, CustomStringConvertible {
  /// The window part: a period (`1998-03`, `1998-03-05`) or a slot name (`s1000`, `lunch`).
  public var window: String
  /// The region part.
  public var region: String

  /// Creates a key from parts that are already safe names.
  public init(window: String, region: String) {
    self.window = window
    self.region = region
  }

  /// Parses `window/region`; nil unless there are exactly two parts and both are safe names
  /// (so the text can be used as a relative path without leaving its folder).
  public init?(parsing text: String) {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false).map(String.init)
    guard parts.count == 2, DomainName.isSafe(parts[0]), DomainName.isSafe(parts[1]) else {
      return nil
    }
    self.init(window: parts[0], region: parts[1])
  }

  /// `window/region`.
  public var description: String { window + "/" + region }

  /// Orders keys by their text.
  public static func < (lhs: DomainKey, rhs: DomainKey) -> Bool {
    (lhs.window, lhs.region) < (rhs.window, rhs.region)
  }
}

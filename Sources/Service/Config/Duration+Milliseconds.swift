extension Duration {
  /// The duration in whole milliseconds (a configured duration is one: `ConfigValueParser`
  /// rounds to the millisecond).
  public var wholeMilliseconds: Int64 {
    let (seconds, attoseconds) = components
    return seconds * 1000 + attoseconds / 1_000_000_000_000_000
  }
}

extension Trainer {
  /// Domains held.
  public var domainCount: Int { states.count }

  /// The newest event time of `domain`'s examples, in milliseconds, if the domain exists.
  public func lastSeenMs(of domain: String) -> Int64? { withState(domain) { $0.lastSeenMs } }

  /// Drops the least recently seen domains (by the newest event time of their examples, then by
  /// name) while more than `limit` are held, to bound memory (`domain.max_domains`): rolling
  /// windows make a new domain per region every period, for ever.
  ///
  /// Only domains without an open batch (whose examples would be lost) and for which
  /// `isRetirable` holds are dropped (the caller says, e.g., which kernels are already
  /// published), so more than `limit` may remain. A dropped domain loses its kernel, batch
  /// state, evaluation and proxies here; an example for it later starts it anew.
  ///
  /// - Returns: the dropped domains, least recently seen first.
  @discardableResult
  public func retireDomains(
    keepingAtMost limit: Int, where isRetirable: (String) -> Bool = { _ in true }
  ) -> [String] {
    let excess = states.count - max(0, limit)
    guard excess > 0 else { return [] }
    var candidates: [(lastSeenMs: Int64, domain: String)] = []
    for (domain, state) in states where state.pending.isEmpty && isRetirable(domain) {
      candidates.append((state.lastSeenMs, domain))
    }
    candidates.sort { ($0.lastSeenMs, $0.domain) < ($1.lastSeenMs, $1.domain) }
    let retired = candidates.prefix(excess).map(\.domain)
    for domain in retired { states.removeValue(forKey: domain) }
    return retired
  }
}

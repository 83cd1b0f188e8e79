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
  /// `isRetirable` is asked about the domains without an open batch, least recently seen
  /// first, until enough were dropped: the pipeline calls this after every batch of records
  /// while the limit is exceeded, and asking about all 2,000 domains of a full trainer each time
  /// (with a copy of each domain's state) was about 15% of its training thread in a soak.
  ///
  /// - Returns: the dropped domains, least recently seen first.
  @discardableResult
  public func retireDomains(
    keepingAtMost limit: Int, where isRetirable: (String) -> Bool = { _ in true }
  ) -> [String] {
    let excess = states.count - max(0, limit)
    guard excess > 0 else { return [] }
    // Read in place: only the two fields, not a copy of each state.
    var candidates: [(lastSeenMs: Int64, domain: String)] = []
    candidates.reserveCapacity(states.count)
    for index in states.indices where states.values[index].pending.isEmpty {
      candidates.append((states.values[index].lastSeenMs, states.keys[index]))
    }
    candidates.sort { ($0.lastSeenMs, $0.domain) < ($1.lastSeenMs, $1.domain) }
    var retired: [String] = []
    for candidate in candidates {
      guard retired.count < excess else { break }
      if isRetirable(candidate.domain) { retired.append(candidate.domain) }
    }
    for domain in retired { states.removeValue(forKey: domain) }
    return retired
  }
}

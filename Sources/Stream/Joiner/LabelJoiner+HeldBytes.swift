extension LabelJoiner {
  /// What the joiner holds, in bytes estimated from the contents (`heldBytes` of each entry),
  /// by kind. `Configuration.maxPendingBytes` bounds each kind per partition.
  public struct HeldBytes: Sendable, Equatable {
    /// Impressions waiting for their click.
    public var impressions = 0
    /// Clicks waiting for their impression.
    public var earlyClicks = 0
    /// Ids of impressions labelled recently, remembered to classify later clicks.
    public var resolvedIDs = 0

    /// Creates held bytes.
    public init(impressions: Int = 0, earlyClicks: Int = 0, resolvedIDs: Int = 0) {
      self.impressions = impressions
      self.earlyClicks = earlyClicks
      self.resolvedIDs = resolvedIDs
    }

    /// The bytes of every entry of `state`, counted from scratch (a waiting impression's from
    /// its contents, not from what it remembers of them).
    public init(counting state: PartitionState) {
      impressions = state.pending.reduce(0) {
        $0 + PendingImpression.heldBytes(of: $1.impression)
      }
      earlyClicks = state.earlyClicks.reduce(0) { $0 + $1.heldBytes }
      resolvedIDs = state.resolved.reduce(0) { $0 + $1.heldBytes }
    }

    static func + (lhs: HeldBytes, rhs: HeldBytes) -> HeldBytes {
      HeldBytes(
        impressions: lhs.impressions + rhs.impressions,
        earlyClicks: lhs.earlyClicks + rhs.earlyClicks,
        resolvedIDs: lhs.resolvedIDs + rhs.resolvedIDs)
    }

    static func - (lhs: HeldBytes, rhs: HeldBytes) -> HeldBytes {
      HeldBytes(
        impressions: lhs.impressions - rhs.impressions,
        earlyClicks: lhs.earlyClicks - rhs.earlyClicks,
        resolvedIDs: lhs.resolvedIDs - rhs.resolvedIDs)
    }
  }

  /// What `partition` holds, kept up to date as entries come and go; zero for a partition not
  /// seen.
  public func heldBytes(partition: Int32) -> HeldBytes {
    partitions[partition]?.held ?? HeldBytes()
  }

  /// What every partition holds together.
  public var heldBytes: HeldBytes { totals.held }
}

extension LabelJoiner.PendingImpression {
  /// The memory a pending `impression` holds, estimated from its contents: 192 bytes for the
  /// entry (the event's fields, the score, its slot in the partition's table and its deadline in
  /// the heap), the UTF-8 bytes of its id and region, 64 bytes plus the name's and the value's
  /// UTF-8 bytes per categorical feature, and 64 bytes plus the name's per numeric feature. It
  /// is at least the size of its entry in the snapshot's joiner state.
  public static func heldBytes(of impression: Event) -> Int {
    var bytes = 192 + impression.id.utf8.count + (impression.region?.utf8.count ?? 0)
    for feature in impression.categorical {
      bytes += 64 + feature.name.utf8.count + feature.value.utf8.count
    }
    for name in impression.numeric.keys { bytes += 64 + name.utf8.count }
    return bytes
  }
}

extension LabelJoiner.EarlyClick {
  /// The memory it holds, estimated: 96 bytes for the entry and its time in the heap, and the
  /// UTF-8 bytes of the impression id. At least the size of its entry in the snapshot.
  public var heldBytes: Int { 96 + impressionID.utf8.count }
}

extension LabelJoiner.ResolvedImpression {
  /// The memory it holds, estimated: 96 bytes for the entry in the table and in the resolution
  /// order, and the UTF-8 bytes of the impression id. At least the size of its entry in the
  /// snapshot.
  public var heldBytes: Int { 96 + impressionID.utf8.count }
}

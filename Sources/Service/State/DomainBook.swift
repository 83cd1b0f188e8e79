import Stream

/// What the pipeline keeps about each domain's published kernels, besides the kernels: the
/// version numbers it allocated, the training step each version names, the domains drift
/// deactivated, those whose newest version may not have been delivered, and the last versions
/// of retired domains.
///
/// One book is the pipeline's; a partition's share of it (`share(ofLane:domains:)`) travels
/// with the partition's state to another process, which merges it (`adopt(_:)`). Snapshots and
/// partition states store it under the same metadata keys (`encoded()`, `init(metadata:)`).
public struct DomainBook: Sendable, Equatable {
  /// The newest kernel version of each domain: it names the weights the domain's kernel had at
  /// `publishedSteps[domain]`.
  public var kernelVersions: [String: Int] = [:]
  /// Adam steps of each domain's kernel when its newest version was allocated: a kernel whose
  /// step count is unchanged has the weights its version names and gets no new number. A domain
  /// missing here (a reset or rollback) gets a new number at the next checkpoint.
  public var publishedSteps: [String: Int] = [:]
  /// The last kernel version of each domain retired beyond `domain.max_domains`, with the lane
  /// that owned it: a domain started again later numbers on from there, so a (domain, version)
  /// pair never names two sets of weights. An entry leaves when its domain gets a new version,
  /// or when its period can no longer come back (`dropRetired(where:)`).
  public var retired: [String: RetiredVersion] = [:]
  /// What stands for the retired entries dropped so far (nil: none was): a domain without an
  /// entry that may be one of them numbers on from its version.
  public var retiredFloor: RetiredFloor?
  /// Domains a drift action deactivated (published with `active=false`).
  public var deactivated: Set<String> = []
  /// Domains whose newest kernel version may not have been delivered: the next checkpoint
  /// publishes them again under the same number.
  public var undelivered: Set<String> = []

  /// An empty book.
  public init() {}

  // MARK: - Numbering

  /// A kernel a checkpoint publishes, with the version number it goes out under.
  public struct Allocation: Sendable {
    /// The domain.
    public var domain: String
    /// Its version number.
    public var version: Int
    /// Whether the number is new (the kernel changed since its newest version).
    public var isNew: Bool
  }

  /// Numbers the kernels of a checkpoint, given each domain's Adam step count (sorted by
  /// domain): a kernel that changed since its newest version gets the next number (after its
  /// retired one, when it was retired, or after the floor of dropped entries when it may have
  /// been one of them), and one not known to be delivered goes out again under the number it
  /// has. The book records them as allocated (and not yet delivered); a domain that got a
  /// number again leaves the retired list. Returns what to publish, by domain.
  public mutating func allocate(stepCounts: [(domain: String, steps: Int)]) -> [Allocation] {
    var result: [Allocation] = []
    for (domain, steps) in stepCounts {
      let isNew = publishedSteps[domain] != steps
      guard isNew || undelivered.contains(domain) else { continue }
      if isNew {
        kernelVersions[domain] = nextVersion(of: domain)
        retired[domain] = nil
        publishedSteps[domain] = steps
      }
      undelivered.insert(domain)
      result.append(Allocation(domain: domain, version: kernelVersions[domain]!, isNew: isNew))
    }
    return result
  }

  /// The number `domain`'s next kernel version gets: one more than its newest version or,
  /// without one, than the higher of its retired entry's and the floor's (`floorVersion`): a
  /// book that took a share over may hold a lower entry of its own than the version the
  /// share's floor stands for.
  public func nextVersion(of domain: String) -> Int {
    if let version = kernelVersions[domain] { return version + 1 }
    return max(retired[domain]?.version ?? 0, floorVersion(of: domain)) + 1
  }

  /// The version a domain with no version numbers on from as far as dropped entries go: the
  /// floor's when its period starts no later than the latest dropped one (it may be one of
  /// them), else 0. A name that reads as no period (a slot's) never had an entry dropped.
  private func floorVersion(of domain: String) -> Int {
    guard let retiredFloor, let start = Self.periodStart(of: domain),
      start <= retiredFloor.windowStartMilliseconds
    else { return 0 }
    return retiredFloor.version
  }

  /// The start of the period `domain` names (`DomainWindow.nameStartMilliseconds`), or nil.
  private static func periodStart(of domain: String) -> Int64? {
    DomainKey(parsing: domain).flatMap { DomainWindow.nameStartMilliseconds($0.window) }
  }

  /// Drops the retired entries `isGone` says can no longer come back (their period is past
  /// what any partition admits), keeping the floor that stands for them (`retiredFloor`).
  /// Only entries whose domain names a period (`DomainWindow.nameStartMilliseconds`) can be
  /// dropped: a slot's recurs. Returns the domains dropped, sorted.
  @discardableResult
  public mutating func dropRetired(where isGone: (String, RetiredVersion) -> Bool) -> [String] {
    var dropped: [String] = []
    retired = retired.filter { domain, entry in
      guard isGone(domain, entry), let start = Self.periodStart(of: domain) else { return true }
      let floor = RetiredFloor(version: entry.version, windowStartMilliseconds: start)
      retiredFloor = floor.merged(with: retiredFloor)
      dropped.append(domain)
      return false
    }
    return dropped.sorted()
  }

  /// Notes that `domain`'s newest version is delivered.
  public mutating func delivered(_ domain: String) {
    undelivered.remove(domain)
  }

  /// Marks `domain`'s kernel replaced (a reset or rollback): it gets a new number at the next
  /// checkpoint whatever its step count.
  public mutating func replaced(_ domain: String) {
    publishedSteps[domain] = nil
  }

  // MARK: - Forgetting and moving

  /// Forgets everything about `domain` (it moved to another process, or is retired).
  public mutating func forget(_ domain: String) {
    kernelVersions[domain] = nil
    publishedSteps[domain] = nil
    undelivered.remove(domain)
    deactivated.remove(domain)
  }

  /// Forgets `domain`, retired beyond `domain.max_domains` from `lane` (nil: not known), but
  /// keeps its last version in `retired`: it numbers on from there if it comes back.
  public mutating func retire(_ domain: String, lane: Int32?) {
    if let version = kernelVersions[domain], version >= 1 {
      retired[domain] = RetiredVersion(version: version, lane: lane)
    }
    forget(domain)
  }

  /// Forgets `domains` and the retired entries of `lane`: the partition of that lane moved to
  /// another process, which numbers them from the share it took (`share(ofLane:domains:)`).
  public mutating func release(lane: Int32, domains: [String]) {
    for domain in domains { forget(domain) }
    retired = retired.filter { $0.value.lane != lane }
  }

  /// The part of the book a partition's state carries: the entries of `domains` (those the
  /// partition of `lane` owns) and the retired entries of `lane`.
  public func share(ofLane lane: Int32, domains: [String]) -> DomainBook {
    let owned = Set(domains)
    var share = DomainBook()
    share.kernelVersions = kernelVersions.filter { owned.contains($0.key) }
    share.publishedSteps = publishedSteps.filter { owned.contains($0.key) }
    share.deactivated = deactivated.intersection(owned)
    share.undelivered = undelivered.intersection(owned)
    share.retired = retired.filter { $0.value.lane == lane }
    share.retiredFloor = retiredFloor
    return share
  }

  /// Takes over `share` (a partition adopted from another process): its entries replace this
  /// book's, a retired entry counts unless the domain has a version or a newer retired one,
  /// and the floor covers what either floor covered.
  public mutating func adopt(_ share: DomainBook) {
    if let floor = share.retiredFloor { retiredFloor = floor.merged(with: retiredFloor) }
    kernelVersions.merge(share.kernelVersions) { _, new in new }
    for domain in share.kernelVersions.keys { retired[domain] = nil }
    for (domain, entry) in share.retired where kernelVersions[domain] == nil {
      if entry.version > retired[domain]?.version ?? 0 { retired[domain] = entry }
    }
    publishedSteps.merge(share.publishedSteps) { _, new in new }
    deactivated.formUnion(share.deactivated)
    undelivered.formUnion(share.undelivered)
  }

  // MARK: - Encoding

  /// Metadata key of `kernelVersions` (`{"domain": version}` as JSON).
  public static let kernelVersionsKey = "kernel_versions"
  /// Metadata key of `publishedSteps` (`{"domain": steps}` as JSON).
  public static let publishedStepsKey = "published_steps"
  /// Metadata key of `deactivated` (comma-separated, sorted).
  public static let deactivatedKey = "deactivated"
  /// Metadata key of `undelivered` (comma-separated, sorted).
  public static let undeliveredKey = "undelivered"

  /// The book as metadata text (a snapshot's manifest extras, a partition state's safetensors
  /// metadata). `retired_kernel_versions` is left out when empty, `retired_version_floor`
  /// when there is no floor.
  public func encoded() -> [String: String] {
    [
      Self.kernelVersionsKey: SnapshotView.encodeMap(kernelVersions),
      Self.publishedStepsKey: SnapshotView.encodeMap(publishedSteps),
      Self.deactivatedKey: deactivated.sorted().joined(separator: ","),
      Self.undeliveredKey: undelivered.sorted().joined(separator: ","),
    ].merging(RetiredVersion.extras(retired)) { first, _ in first }
      .merging(RetiredFloor.extras(retiredFloor)) { first, _ in first }
  }

  /// Reads a book `encoded()` wrote; a key that is missing reads as empty (snapshots older than
  /// it), and so does a malformed entry.
  public init(metadata: [String: String]) {
    kernelVersions = SnapshotView.jsonMap(metadata[Self.kernelVersionsKey]) { $0.intValue }
    publishedSteps = SnapshotView.jsonMap(metadata[Self.publishedStepsKey]) { $0.intValue }
    deactivated = Self.names(metadata[Self.deactivatedKey])
    undelivered = Self.names(metadata[Self.undeliveredKey])
    retired = RetiredVersion.decode(metadata[RetiredVersion.key])
    retiredFloor = RetiredFloor.decode(metadata[RetiredFloor.key])
  }

  private static func names(_ text: String?) -> Set<String> {
    Set((text ?? "").split(separator: ",").map(String.init))
  }
}

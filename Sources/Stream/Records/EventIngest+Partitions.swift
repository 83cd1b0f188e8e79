import Base

extension EventIngest {
  /// The state of one partition, as bytes in the formats of `exportState()`: the joiner's memory
  /// of `partition` (with zero running totals, which stay with the process that counted them)
  /// and the router's knowledge of `domains` (the domains the partition owns) with the names of
  /// their regions. `adopt(joiner:router:)` adds it to another ingest stage.
  /// `joinerBlocks` are the joiner's partition blocks of an `exportState(joinerBlocks:)` of this
  /// same state, if any: the partition's is reused rather than serialized again.
  public func exportState(
    partition: Int32, domains: Set<String>, joinerBlocks: [Int32: [UInt8]] = [:]
  ) -> (joiner: [UInt8], router: [UInt8]) {
    var routerState = router.exportState()
    routerState.domains = routerState.domains.filter { domains.contains($0.key.description) }
    let regions = Set(routerState.domains.map(\.key.region))
    routerState.regionNames = routerState.regionNames.filter { regions.contains($0.name) }
    return (
      joiner.serializedState(partition: partition, reusing: joinerBlocks),
      routerState.serialized()
    )
  }

  /// Adds a partition's state exported by `exportState(partition:domains:)`: the joiner's
  /// partitions in it replace any of the same number, the router learns its domains and region
  /// names (a raw region already named here keeps its name). Nothing changes when it throws.
  ///
  /// - Throws: `ByteReadError` when the bytes are not such states, `DomainSpecError` when
  ///   the router's settings are unusable.
  public mutating func adopt(joiner joinerBytes: [UInt8], router routerBytes: [UInt8]) throws {
    let adoptedJoiner = try LabelJoiner.State(bytes: joinerBytes)
    let adoptedRouter = try DomainRouter.State(bytes: routerBytes)
    var routerState = router.exportState()
    let known = Set(routerState.domains.map(\.key))
    routerState.domains =
      (routerState.domains
      + adoptedRouter.domains.filter { !known.contains($0.key) }).sorted { $0.key < $1.key }
    let named = Set(routerState.regionNames.map(\.raw))
    routerState.regionNames =
      (routerState.regionNames
      + adoptedRouter.regionNames.filter { !named.contains($0.raw) }).sorted { $0.raw < $1.raw }
    router = try DomainRouter(
      configuration: router.configuration, restoring: routerState, metrics: metrics)
    joiner.adoptPartitions(of: adoptedJoiner)
  }

  /// Forgets `partition`'s joiner memory and the router's `domains` (the partition moved to
  /// another process). Region names are kept: they only name, and stay stable.
  public mutating func release(partition: Int32, domains: Set<String>) {
    joiner.removePartition(partition)
    for key in router.domains where domains.contains(key.description) { router.forget(key) }
  }
}

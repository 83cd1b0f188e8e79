import Foundation
import Observability

/// Routes labelled examples to domains: event time to a window, region to an area
/// (`domain.*` in pipeline.conf).
///
/// The region comes from the event's region field; with a region map, values it does not list go
/// to the fallback region, and without one the raw value is sanitised (see `DomainName`). Missing
/// or empty regions go to the fallback, and so do new regions once `maxRegions` distinct ones are
/// known, so hostile data cannot create unbounded domains. Every route says whether the domain is
/// new and, for rolling windows, its warm-start parent: the latest earlier period of the same
/// region that the router has seen.
public struct DomainRouter: Sendable {
  /// The router's settings.
  public struct Configuration: Sendable, Equatable {
    /// How event time is cut into windows (`domain.window`).
    public var window: DomainWindow
    /// Raw region values to areas (`domain.region_map`), or `nil` to use raw values.
    public var regionMap: DomainRegionMap?
    /// The region for missing, unmapped or overflowing values (`domain.fallback_region`).
    public var fallbackRegion: String
    /// The most distinct raw regions given their own domain (without a map).
    public var maxRegions: Int
    /// A categorical feature to read the region from (`domain.region_field`), or `nil` for the
    /// event's region field.
    public var regionFeature: String?

    /// Creates a configuration.
    public init(
      window: DomainWindow, regionMap: DomainRegionMap? = nil, fallbackRegion: String = "unknown",
      maxRegions: Int = 1_000, regionFeature: String? = nil
    ) {
      self.window = window
      self.regionMap = regionMap
      self.fallbackRegion = fallbackRegion
      self.maxRegions = maxRegions
      self.regionFeature = regionFeature
    }
  }

  /// Where an example goes.
  public struct Route: Sendable, Equatable {
    /// The domain.
    public var domain: DomainKey
    /// Whether this is the first example routed to the domain.
    public var isNew: Bool
    /// For a new domain of a rolling window, the latest earlier domain of the same region.
    public var parent: DomainKey?
  }

  /// Why a region went to the fallback region; the `reason` of `iak_router_fallback_total`.
  public enum FallbackReason: String, Sendable, CaseIterable {
    /// The event had no region, or an empty one.
    case missing
    /// The region map does not list the value.
    case unmapped
    /// `maxRegions` distinct regions were already known.
    case overflow
  }

  /// Everything the router remembers, for snapshots.
  public struct State: Sendable, Equatable {
    /// Known domains with the ordinal of their window (period number or slot index), sorted.
    public var domains: [KnownDomain]
    /// Raw region values and the names given to them, sorted by raw value.
    public var regionNames: [RegionName]

    /// Creates a state.
    public init(domains: [KnownDomain] = [], regionNames: [RegionName] = []) {
      self.domains = domains
      self.regionNames = regionNames
    }
  }

  /// A domain the router has routed to.
  public struct KnownDomain: Sendable, Equatable {
    /// The domain.
    public var key: DomainKey
    /// The window's ordinal: months since year 0, periods since the epoch, or the slot index.
    public var ordinal: Int64

    /// Creates a known domain.
    public init(key: DomainKey, ordinal: Int64) {
      self.key = key
      self.ordinal = ordinal
    }
  }

  /// The safe name chosen for a raw region value.
  public struct RegionName: Sendable, Equatable {
    /// The value as it came in the event.
    public var raw: String
    /// Its name in domain keys.
    public var name: String

    /// Creates a region name.
    public init(raw: String, name: String) {
      self.raw = raw
      self.name = name
    }
  }

  /// The settings this router runs with.
  public let configuration: Configuration
  private var known: [DomainKey: Int64] = [:]
  /// Per region, its known windows as (ordinal, key), sorted by ordinal.
  private var periodsByRegion: [String: [(Int64, DomainKey)]] = [:]
  private var regionNames: [String: String] = [:]
  private var usedRegionNames: Set<String> = []
  private var clock: RouterClock
  private let metrics: RouterMetrics?
  /// The raw region and window name of the last impression asked about
  /// (`knownDomain(of:)`, `newDomainName(of:)`) whose domain is known, and that domain.
  /// Consecutive events mostly share both (a user's session), and each ask otherwise hashed
  /// the raw region and the domain key. Still right when domains or region names are added
  /// (a resolved region never changes, and a known domain stays known); cleared when that
  /// domain is forgotten.
  private var lastKnown: (raw: String?, window: String, domain: DomainKey)?

  /// Creates a router.
  ///
  /// - Throws: `DomainSpecError` if the fallback region is not a safe name.
  public init(
    configuration: Configuration, metrics: MetricsRegistry? = nil
  ) throws(DomainSpecError) {
    guard DomainName.isSafe(configuration.fallbackRegion) else {
      throw DomainSpecError(
        "domain.fallback_region '\(configuration.fallbackRegion)' must be at most "
          + "\(DomainName.maxLength) letters, digits, '.', '_' or '-' and not start with '.'")
    }
    self.configuration = configuration
    self.clock = RouterClock(window: configuration.window)
    self.metrics = metrics.map(RouterMetrics.init)
  }

  /// Creates a router that remembers `state`, as exported by `exportState()`.
  ///
  /// - Throws: `DomainSpecError` if the fallback region is not a safe name.
  public init(
    configuration: Configuration, restoring state: State, metrics: MetricsRegistry? = nil
  ) throws(DomainSpecError) {
    try self.init(configuration: configuration, metrics: metrics)
    for domain in state.domains { remember(domain.key, ordinal: domain.ordinal) }
    for region in state.regionNames {
      regionNames[region.raw] = region.name
      usedRegionNames.insert(region.name)
    }
    self.metrics?.domains.set(Double(known.count))
  }

  /// Every domain routed to so far, sorted.
  public var domains: [DomainKey] { known.keys.sorted() }

  /// Everything the router remembers, in canonical order.
  public func exportState() -> State {
    State(
      domains: known.map { KnownDomain(key: $0.key, ordinal: $0.value) }.sorted { $0.key < $1.key },
      regionNames: regionNames.map { RegionName(raw: $0.key, name: $0.value) }.sorted {
        $0.raw < $1.raw
      })
  }

  /// Routes an event by its time and region (or the configured region feature).
  public mutating func route(_ event: Event) -> Route {
    route(timeMilliseconds: event.timeMilliseconds, region: rawRegion(of: event))
  }

  /// The domain `event` would be routed to if it were routed now, when that domain is known,
  /// without remembering anything (the window cache and `lastKnown` aside) or counting
  /// fallbacks: what the pipeline scores an arriving impression against. Nil when the route
  /// would create a domain.
  public mutating func knownDomain(of event: Event) -> DomainKey? {
    guard case .known(let key) = lookUp(event) else { return nil }
    return key
  }

  /// The name of the domain `event` would start if routed now, when that domain is not known
  /// yet (nil when it is): its window and region name, a raw region not named yet standing for
  /// itself by a hash. Remembers nothing (the window cache and `lastKnown` aside) and counts no
  /// fallback.
  public mutating func newDomainName(of event: Event) -> String? {
    switch lookUp(event) {
    case .known: return nil
    case .new(let key): return key.description
    case .unnamed(let window, let raw):
      // A raw region not seen yet: new whatever its window. Named by a hash, so that hostile
      // regions of 64 KiB do not fill the partition state that remembers new domains.
      return window + "/raw-" + DomainName.hash(raw, hexDigits: 16)
    }
  }

  /// Where `event` would be routed now (`knownDomain(of:)`, `newDomainName(of:)`).
  private enum Lookup {
    /// A known domain.
    case known(DomainKey)
    /// A domain not known yet, of a named region.
    case new(DomainKey)
    /// A raw region not named yet, in a window.
    case unnamed(window: String, raw: String)
  }

  /// Looks `event`'s domain up, answering from `lastKnown` for the raw region and window it
  /// was found for, and remembering a known domain found.
  private mutating func lookUp(_ event: Event) -> Lookup {
    let raw = rawRegion(of: event)
    let window = clock.window(at: event.timeMilliseconds).name
    if isLastKnown(raw, window), let domain = lastKnown?.domain { return .known(domain) }
    switch resolvedRegion(raw) {
    case .unnamed(let raw):
      return .unnamed(window: window, raw: raw)
    case .named(let region):
      let key = DomainKey(window: window, region: region)
      guard known[key] != nil else { return .new(key) }
      lastKnown = (raw, window, key)
      return .known(key)
    }
  }

  /// How `event`'s region would be named if routed now, without naming a new one.
  private enum ResolvedRegion {
    /// The region's name (a mapped area, a name given before, or the fallback).
    case named(String)
    /// A raw region not named yet (routing it would name it).
    case unnamed(String)
  }

  /// Whether `lastKnown` was found for `raw` in `window`. Compared in place: binding
  /// `lastKnown` copied its four strings (about 0.6% of `serve`'s training thread).
  private func isLastKnown(_ raw: String?, _ window: String) -> Bool {
    lastKnown?.window == window && lastKnown?.raw == raw
  }

  /// The raw region of `event`: its region, or the configured region feature.
  private func rawRegion(of event: Event) -> String? {
    if let name = configuration.regionFeature { return event.feature(name) }
    return event.region
  }

  private func resolvedRegion(_ raw: String?) -> ResolvedRegion {
    guard let raw, !raw.isEmpty else { return .named(configuration.fallbackRegion) }
    if let map = configuration.regionMap {
      return .named(map.area(for: raw) ?? configuration.fallbackRegion)
    }
    if let name = regionNames[raw] { return .named(name) }
    if regionNames.count >= configuration.maxRegions {
      return .named(configuration.fallbackRegion)
    }
    return .unnamed(raw)
  }

  /// Routes an example at `timeMilliseconds` (event time) from raw `region`.
  public mutating func route(timeMilliseconds: Int64, region: String?) -> Route {
    let window = clock.window(at: timeMilliseconds)
    let key = DomainKey(window: window.name, region: regionName(region))
    if known[key] != nil { return Route(domain: key, isNew: false, parent: nil) }
    var parent: DomainKey?
    if configuration.window.isRolling {
      parent = periodsByRegion[key.region]?.last { $0.0 < window.ordinal }?.1
    }
    remember(key, ordinal: window.ordinal)
    metrics?.domains.set(Double(known.count))
    return Route(domain: key, isNew: true, parent: parent)
  }

  /// Forgets `domain`, e.g. when the learner retires its kernel to stay within
  /// `domain.max_domains`; a later example for it makes it new again.
  public mutating func forget(_ domain: DomainKey) {
    guard known.removeValue(forKey: domain) != nil else { return }
    if lastKnown?.domain == domain { lastKnown = nil }
    periodsByRegion[domain.region]?.removeAll { $0.1 == domain }
    if periodsByRegion[domain.region]?.isEmpty == true { periodsByRegion[domain.region] = nil }
    metrics?.domains.set(Double(known.count))
  }

  private mutating func remember(_ key: DomainKey, ordinal: Int64) {
    known[key] = ordinal
    var periods = periodsByRegion[key.region, default: []]
    let position = periods.lastIndex { $0.0 < ordinal }.map { $0 + 1 } ?? 0
    periods.insert((ordinal, key), at: position)
    periodsByRegion[key.region] = periods
  }

  private mutating func regionName(_ raw: String?) -> String {
    guard let raw, !raw.isEmpty else { return fallback(.missing) }
    if let map = configuration.regionMap {
      return map.area(for: raw) ?? fallback(.unmapped)
    }
    if let name = regionNames[raw] { return name }
    guard regionNames.count < configuration.maxRegions else { return fallback(.overflow) }
    var name = DomainName.sanitise(raw)!
    if usedRegionNames.contains(name) {
      let suffix = "-" + DomainName.hash(raw, hexDigits: 16)
      name = String(name.prefix(DomainName.maxLength - suffix.count)) + suffix
    }
    regionNames[raw] = name
    usedRegionNames.insert(name)
    return name
  }

  private func fallback(_ reason: FallbackReason) -> String {
    metrics?.fallbacks[reason]?.increment()
    return configuration.fallbackRegion
  }
}

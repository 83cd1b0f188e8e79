/// The drift detectors of every domain, created on a domain's first observation.
public struct DriftMonitor: Sendable, Equatable {
  /// The thresholds and counts every domain uses.
  public let settings: DriftSettings
  /// The detectors per domain.
  public internal(set) var monitors: [String: DomainDriftMonitor] = [:]

  /// Creates a monitor without domains.
  public init(settings: DriftSettings) {
    self.settings = settings
  }

  /// The domains observed so far, sorted.
  public var domains: [String] { monitors.keys.sorted() }

  /// Feeds one observation of `domain`; returns the firings and clearings it caused.
  public mutating func observe(_ observation: DriftObservation, of domain: String)
    -> [DriftEvent]
  {
    monitors[domain, default: DomainDriftMonitor(domain: domain, settings: settings)]
      .observe(observation)
  }

  /// The detectors of `domain`, or nil if it was never observed.
  public func monitor(of domain: String) -> DomainDriftMonitor? { monitors[domain] }

  /// Whether `domain`'s serving guard lets its kernel serve (false for an unknown domain).
  ///
  /// Asked for every impression, so it reads in place, and is mutating for that alone (it
  /// changes nothing): a read through `monitors[domain]` copied the domain's monitor, its
  /// guard's windows retained and released, and a call on a monitor held in a property
  /// copied the whole monitor first.
  public mutating func isServing(_ domain: String) -> Bool {
    guard let index = monitors.index(forKey: domain) else { return false }
    return Self.inPlace(&monitors.values[index]) { $0.isServing }
  }

  /// `body(value)`, on `value` in place: a modify access, where a read would copy.
  private static func inPlace<Value, Result>(
    _ value: inout Value, _ body: (inout Value) -> Result
  ) -> Result {
    body(&value)
  }

  /// The detectors firing in `domain` (empty for an unknown domain).
  public func firingDetectors(of domain: String) -> Set<DriftDetector> {
    monitors[domain]?.firingDetectors ?? []
  }

  /// Forgets the evidence about `domain`'s kernel after it was reset or rolled back (see
  /// `DomainDriftMonitor.restartKernel()`); does nothing for an unknown domain.
  public mutating func restartKernel(of domain: String) {
    monitors[domain]?.restartKernel()
  }

  /// Drops a domain's detectors (e.g. a rolling period that ended); returns them, if any.
  @discardableResult
  public mutating func removeDomain(_ domain: String) -> DomainDriftMonitor? {
    monitors.removeValue(forKey: domain)
  }
}

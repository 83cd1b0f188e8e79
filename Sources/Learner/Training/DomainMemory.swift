/// What the trainer's domains hold in memory, by part, in bytes: the heap buffers' capacities
/// (not their counts) and each domain's entry in the trainer's table, so the figures are what
/// the allocator handed out for them, give or take its rounding.
public struct DomainMemory: Sendable, Equatable {
  /// Domains counted.
  public var domains = 0
  /// Kernel parameters and their two Adam moments.
  public var kernelBytes = 0
  /// Sliding windows of the prequential meters (logits and labels).
  public var windowBytes = 0
  /// The meters' logit histograms (occupied bins and their counts).
  public var histogramBytes = 0
  /// Information proxies (KL per dimension).
  public var proxyBytes = 0
  /// The open batch's array (its capacity times the size of an `Example`, without the
  /// examples' own strings and numbers, which `pendingExampleBytes` counts).
  public var pendingCapacityBytes = 0
  /// The pending examples' own contents (domain, categorical values, numeric values).
  public var pendingExampleBytes = 0
  /// The table entry: the domain's name and its `DomainState` value.
  public var entryBytes = 0
  /// The drift monitors' windows of the same domains (`DriftMonitor.windowHeldBytes`), when
  /// the caller adds them (the trainer does not hold them).
  public var driftBytes = 0

  /// Creates empty figures.
  public init() {}

  /// Every part together.
  public var totalBytes: Int {
    kernelBytes + windowBytes + histogramBytes + proxyBytes + pendingCapacityBytes
      + pendingExampleBytes + entryBytes + driftBytes
  }

  /// The parts by name, in the order `totalBytes` adds them.
  public var parts: [(name: String, bytes: Int)] {
    [
      ("kernel+adam", kernelBytes), ("windows", windowBytes), ("histograms", histogramBytes),
      ("proxies", proxyBytes), ("pending capacity", pendingCapacityBytes),
      ("pending examples", pendingExampleBytes), ("entry", entryBytes),
      ("drift windows", driftBytes),
    ]
  }
}

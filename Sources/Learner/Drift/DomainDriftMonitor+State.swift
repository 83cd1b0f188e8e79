import Checkpoint

extension DomainDriftMonitor {
  /// The names (after the caller's prefix) and layouts of the tensors holding a domain's drift
  /// state; `DomainDriftMonitor(domain:settings:stateTensors:prefix:)` reads them back.
  public enum StateTensor {
    /// `int64 [11]`: format version (1), last step (`Int64.min` = none), examples seen, invalid
    /// examples, invalid values, collapse firing (0/1), relevance window capacity, its next slot,
    /// its count, examples in the logloss test, examples in the click-rate test.
    public static let counters = "drift.counters"
    /// `int64 [3]` per detector, named `drift.state.<detector>`: firing (0/1), start of the
    /// holding run, start of the false run (`Int64.min` = none).
    public static let statePrefix = "drift.state."
    /// `float64 [2, 6]`: per test (logloss, click rate) mean, sum of squared deviations,
    /// increase sum and minimum, decrease sum and maximum.
    public static let pageHinkley = "drift.page_hinkley"
    /// `float64 [3]`: the relevance window's sums of kernel losses, backbone losses and labels.
    public static let relevanceSums = "drift.relevance.sums"
    /// `float64 [n, 3]`: the relevance window's filled slots in ring order (kernel loss,
    /// backbone loss, label).
    public static let relevanceSlots = "drift.relevance.slots"
    /// `float32 [n, 3]`: the serving guard's examples, oldest first (kernel logit, backbone
    /// logit, label). Optional when reading (older snapshots: the guard starts empty, in shadow).
    public static let guardSlots = "drift.guard.slots"
    /// `int64 [5]`: the guard's examples since its last comparison, whether it serves (0/1), its
    /// last verdict (0 undecided, 1 no harm, 2 harm), examples since its last harm verdict
    /// while fewer than its window (`Int64.min` otherwise), examples since a first pass that
    /// awaits its confirmation (`Int64.min`: none). Older snapshots hold only the first four
    /// (read as no pass awaiting confirmation).
    public static let guardCounters = "drift.guard.counters"
    /// `float64 [9]`: the guard's last comparison (count, positives, kernel AUC, backbone AUC,
    /// AUC standard error, kernel log loss, backbone log loss, log-loss standard error, label
    /// entropy), or `[]` before the first.
    public static let guardComparison = "drift.guard.comparison"
  }

  /// The detectors kept with a hysteresis state, in the order they are saved.
  static let savedDetectors: [DriftDetector] = [
    .inactiveBottleneck, .identity, .constantZ, .klRunaway, .harm, .loglossDrift, .ctrDrift,
  ]

  /// Every tensor needed to continue bit for bit, each name prefixed by `prefix` (the monitor of
  /// all domains uses `"<domain>/"`).
  public func stateTensors(prefix: String = "") -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    let counters: [Int64] = [
      1, lastStep.map(Int64.init) ?? .min, Int64(examplesSeen), Int64(invalidExamples),
      Int64(invalidValues), isCollapsed ? 1 : 0, Int64(relevance.capacity),
      Int64(relevance.next), Int64(relevance.count), Int64(loglossTest.count),
      Int64(ctrTest.count),
    ]
    result[prefix + StateTensor.counters] = Tensor(int64s: counters, shape: [counters.count])
    for detector in Self.savedDetectors {
      let state = hysteresis(of: detector)
      result[prefix + StateTensor.statePrefix + detector.rawValue] = Tensor(
        int64s: [
          state.isFiring ? 1 : 0, state.holdingSince.map(Int64.init) ?? .min,
          state.falseSince.map(Int64.init) ?? .min,
        ], shape: [3])
    }
    let tests = [loglossTest, ctrTest].flatMap {
      [
        $0.mean, $0.squaredDeviations, $0.increaseSum, $0.increaseMinimum, $0.decreaseSum,
        $0.decreaseMaximum,
      ]
    }
    result[prefix + StateTensor.pageHinkley] = Tensor(doubles: tests, shape: [2, 6])
    result[prefix + StateTensor.relevanceSums] = Tensor(
      doubles: [relevance.kernelLossSum, relevance.backboneLossSum, relevance.labelSum],
      shape: [3])
    result[prefix + StateTensor.relevanceSlots] = Tensor(
      doubles: Array(relevance.slots[0..<(3 * relevance.count)]), shape: [relevance.count, 3])
    let held = servingGuard.examples
    var guardSlots: [Float] = []
    guardSlots.reserveCapacity(3 * held.labels.count)
    for index in held.labels.indices {
      guardSlots += [held.kernel[index], held.backbone[index], held.labels[index] ? 1 : 0]
    }
    result[prefix + StateTensor.guardSlots] = Tensor(
      floats: guardSlots, shape: [held.labels.count, 3])
    let verdictCode: Int64 =
      switch servingGuard.lastVerdict {
      case .undecided: 0
      case .noHarm: 1
      case .harm: 2
      }
    result[prefix + StateTensor.guardCounters] = Tensor(
      int64s: [
        Int64(servingGuard.sinceCheck), servingGuard.isServing ? 1 : 0, verdictCode,
        servingGuard.examplesSinceHarm.map(Int64.init) ?? .min,
        servingGuard.examplesSincePass.map(Int64.init) ?? .min,
      ], shape: [5])
    let comparison = servingGuard.lastComparison.map {
      [
        Double($0.count), Double($0.positives), $0.kernelAUC, $0.backboneAUC,
        $0.aucStandardError, $0.kernelLogLoss, $0.backboneLogLoss, $0.logLossStandardError,
        $0.labelEntropy,
      ]
    }
    result[prefix + StateTensor.guardComparison] = Tensor(
      doubles: comparison ?? [], shape: [comparison?.count ?? 0])
    return result
  }

  /// Restores the detectors of `domain` from tensors written by `stateTensors(prefix:)`.
  ///
  /// Settings may differ from the ones the state was saved with: counts and thresholds come from
  /// `settings`; a relevance window of another capacity keeps its newest examples.
  ///
  /// - Throws: `DriftStateError` naming the missing or malformed tensor; restore the snapshot
  ///   before it, or start the domain's detectors afresh.
  public init(
    domain: String, settings: DriftSettings, stateTensors tensors: [String: Tensor],
    prefix: String = ""
  ) throws(DriftStateError) {
    let reader = StateReader(domain: domain, tensors: tensors, prefix: prefix)
    self.init(domain: domain, settings: settings)
    let counters = try reader.int64s(StateTensor.counters, count: 11)
    guard counters[0] == 1 else {
      throw reader.error(
        StateTensor.counters, "has format version \(counters[0]); this build reads version 1")
    }
    guard counters[2...].allSatisfy({ $0 >= 0 }) else {
      throw reader.error(StateTensor.counters, "holds a negative count: \(counters)")
    }
    lastStep = counters[1] == .min ? nil : Int(counters[1])
    examplesSeen = Int(counters[2])
    invalidExamples = Int(counters[3])
    invalidValues = Int(counters[4])
    isCollapsed = counters[5] != 0
    for detector in Self.savedDetectors {
      let name = StateTensor.statePrefix + detector.rawValue
      let fields = try reader.int64s(name, count: 3)
      let current = hysteresis(of: detector)
      setHysteresis(
        DriftHysteresis(
          fireAfter: current.fireAfter, clearAfter: current.clearAfter, isFiring: fields[0] != 0,
          holdingSince: fields[1] == .min ? nil : Int(fields[1]),
          falseSince: fields[2] == .min ? nil : Int(fields[2])), of: detector)
    }
    let tests = try reader.doubles(StateTensor.pageHinkley, count: 12)
    loglossTest.restore(count: Int(counters[9]), fields: tests[0..<6])
    ctrTest.restore(count: Int(counters[10]), fields: tests[6..<12])
    let sums = try reader.doubles(StateTensor.relevanceSums, count: 3)
    let savedCount = Int(counters[8])
    let savedCapacity = Int(counters[6])
    let savedNext = Int(counters[7])
    guard savedCount <= savedCapacity, savedNext < max(1, savedCapacity),
      savedCount == savedCapacity || savedNext == savedCount
    else {
      throw reader.error(
        StateTensor.counters,
        "describes an impossible relevance window (capacity \(savedCapacity), next slot "
          + "\(savedNext), count \(savedCount))")
    }
    let slots = try reader.doubles(StateTensor.relevanceSlots, count: 3 * savedCount)
    if savedCapacity == relevance.capacity {
      relevance.slots = slots
      relevance.next = savedNext
      relevance.count = savedCount
      relevance.kernelLossSum = sums[0]
      relevance.backboneLossSum = sums[1]
      relevance.labelSum = sums[2]
    } else {
      let start = savedCount == savedCapacity ? savedNext : 0
      let kept = min(savedCount, relevance.capacity)
      for offset in (savedCount - kept)..<savedCount {
        let slot = 3 * ((start + offset) % savedCapacity)
        relevance.append(
          DriftExample(
            kernelLoss: slots[slot], backboneLoss: slots[slot + 1], label: slots[slot + 2]))
      }
      relevance.recomputeSums()
    }
    if tensors[prefix + StateTensor.guardSlots] != nil {
      try restoreGuard(reader)
    }
  }

  private mutating func restoreGuard(_ reader: StateReader) throws(DriftStateError) {
    let found = try reader.tensor(StateTensor.guardSlots)
    guard let slots = try? found.floats(), slots.count % 3 == 0 else {
      throw reader.error(StateTensor.guardSlots, "is not float32 triples")
    }
    var counters = try reader.int64s(StateTensor.guardCounters, counts: 4...5)
    if counters.count == 4 { counters.append(.min) }
    guard counters[0] >= 0, counters[1] == 0 || counters[1] == 1, (0...2).contains(counters[2]),
      counters[3] == .min || counters[3] >= 0, counters[4] == .min || counters[4] >= 0
    else {
      throw reader.error(StateTensor.guardCounters, "holds impossible values \(counters)")
    }
    servingGuard.restore(slots: slots)
    servingGuard.sinceCheck = Int(counters[0])
    servingGuard.isServing = counters[1] == 1
    servingGuard.lastVerdict = [.undecided, .noHarm, .harm][Int(counters[2])]
    servingGuard.examplesSinceHarm =
      counters[3] == .min ? nil : min(Int(counters[3]), servingGuard.settings.window - 1)
    servingGuard.examplesSincePass =
      counters[4] == .min ? nil : min(Int(counters[4]), servingGuard.settings.window)
    let comparisonTensor = try reader.tensor(StateTensor.guardComparison)
    let values = (try? comparisonTensor.doubles()) ?? []
    if values.count == 9 {
      servingGuard.lastComparison = PairedComparison(
        count: Int(values[0]), positives: Int(values[1]), kernelAUC: values[2],
        backboneAUC: values[3], aucStandardError: values[4], kernelLogLoss: values[5],
        backboneLogLoss: values[6], logLossStandardError: values[7], labelEntropy: values[8])
    } else {
      servingGuard.lastComparison = nil
    }
  }

  func hysteresis(of detector: DriftDetector) -> DriftHysteresis {
    switch detector {
    case .inactiveBottleneck: inactiveBottleneck
    case .identity: identity
    case .constantZ: constantZ
    case .klRunaway: klRunaway
    case .harm: harm
    case .loglossDrift: loglossDrift
    case .ctrDrift, .collapse: ctrDrift
    }
  }

  mutating func setHysteresis(_ state: DriftHysteresis, of detector: DriftDetector) {
    switch detector {
    case .inactiveBottleneck: inactiveBottleneck = state
    case .identity: identity = state
    case .constantZ: constantZ = state
    case .klRunaway: klRunaway = state
    case .harm: harm = state
    case .loglossDrift: loglossDrift = state
    case .ctrDrift, .collapse: ctrDrift = state
    }
  }
}

extension PageHinkley {
  /// Restores the running statistics saved by `DomainDriftMonitor.stateTensors`.
  mutating func restore(count: Int, fields: ArraySlice<Double>) {
    let values = Array(fields)
    self.count = count
    mean = values[0]
    squaredDeviations = values[1]
    increaseSum = values[2]
    increaseMinimum = values[3]
    decreaseSum = values[4]
    decreaseMaximum = values[5]
  }
}

/// Reads typed tensors of one domain's drift state, throwing errors that name them.
private struct StateReader {
  let domain: String
  let tensors: [String: Tensor]
  let prefix: String

  func error(_ name: String, _ problem: String) -> DriftStateError {
    DriftStateError(
      "domain '\(domain)': tensor '\(prefix + name)' \(problem); restore an earlier snapshot or "
        + "remove the domain's drift tensors to start its detectors afresh")
  }

  func tensor(_ name: String) throws(DriftStateError) -> Tensor {
    guard let found = tensors[prefix + name] else {
      throw error(name, "is missing")
    }
    return found
  }

  func int64s(_ name: String, count: Int) throws(DriftStateError) -> [Int64] {
    try int64s(name, counts: count...count)
  }

  func int64s(_ name: String, counts: ClosedRange<Int>) throws(DriftStateError) -> [Int64] {
    let found = try tensor(name)
    guard let values = try? found.int64s() else {
      throw error(name, "is \(found.dtype.rawValue), expected I64")
    }
    guard counts.contains(values.count) else {
      let expected =
        counts.count == 1 ? "\(counts.lowerBound)" : "\(counts.lowerBound) to \(counts.upperBound)"
      throw error(name, "has \(values.count) values, expected \(expected)")
    }
    return values
  }

  func doubles(_ name: String, count: Int) throws(DriftStateError) -> [Double] {
    let found = try tensor(name)
    guard let values = try? found.doubles() else {
      throw error(name, "is \(found.dtype.rawValue), expected F64")
    }
    guard values.count == count else {
      throw error(name, "has \(values.count) values, expected \(count)")
    }
    guard values.allSatisfy(\.isFinite) else {
      throw error(name, "holds a value that is not finite")
    }
    return values
  }
}

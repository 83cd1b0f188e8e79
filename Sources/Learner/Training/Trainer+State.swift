import Base
import Checkpoint

extension Trainer {
  /// The names and layouts of the tensors of a trainer snapshot.
  ///
  /// Trainer-wide tensors live under `.trainer/`, which no domain name can start with (domain
  /// names never start with "."). Every other tensor is named `<domain>/<name>`, with `<name>` one
  /// of the kernel's (`IAKKernel.StateTensor`, the weight blocks) or of the constants below; none
  /// of these names contains "/", so the tensors of domains "a" and "a/b" cannot collide.
  public enum StateTensor {
    /// `int64 [3]`: format version (3; version 2 is still read), the newest event time in
    /// milliseconds (`Int64.min` = none yet) and the adaptation mode (0 kernel, 1 output bias,
    /// 2 full fine-tuning).
    public static let trainer = ".trainer/state"
    /// `int64 [2n]`: per lane, sorted by lane, the lane number and its newest event time in
    /// milliseconds.
    public static let lanes = ".trainer/lanes"
    /// `uint8 [n]`: the domain names, sorted: a little-endian `u32` count, then per name a `u32`
    /// byte count and its UTF-8 bytes.
    public static let domains = ".trainer/domains"
    /// `uint8 [n]`: the examples of the domain's open batch, in arrival order, in the binary form
    /// of `Example.encoded(_:)` (domain, categorical strings, numeric float32 bits, label, event
    /// time, lane).
    public static let pending = "pending"
    /// `int64 [1]`: the lane's event time when the open batch received its first example
    /// (`Int64.min` when no batch is open). Optional when reading: without it a batch counts as
    /// opened at its first example's event time.
    public static let pendingOpened = "pending.opened_ms"
    /// `int64 [15]` (format 5): the domain's `ClickDelays`: clicks trained on, those that
    /// corrected a provisional negative, provisional negatives, then the 12 delay buckets.
    public static let clickDelays = "feedback.click_delays"
    /// `int64 [1]`: the lane (input partition) of the domain's first example, which owns the
    /// domain when partitions move between processes (`Int64.min` = unknown). Optional when
    /// reading (snapshots written before it have no owner lane).
    public static let lane = "lane"
    /// `int64 [1]`: batches closed (`DomainEvaluation.batches`).
    public static let evaluationBatches = "evaluation.batches"
    /// `float64 [2]`: the summed cross-entropy of the adapted model and of the backbone, in nats.
    public static let evaluationCrossEntropy = "evaluation.cross_entropy"
    /// `float32 [w]`: the logits of the adapted model in the sliding window (the last
    /// `min(examples, train.auc_window)`), oldest first.
    public static let adaptedWindowLogits = "evaluation.adapted.window_logits"
    /// `uint8 [w]`: the labels (1 = positive) of `adaptedWindowLogits`.
    public static let adaptedWindowLabels = "evaluation.adapted.window_labels"
    /// `uint8 [n]`: the adapted model's `LogitHistogram` in the bytes of
    /// `LogitHistogram.encoded` (per occupied bin: the bin of `LogitHistogram.binCount` over
    /// `lowerLogit...upperLogit`, its positives, its negatives). Its sums are the domain's
    /// example and positive counts.
    public static let adaptedHistogram = "evaluation.adapted.histogram"
    /// `float32 [w]`: the logits of the backbone alone in the sliding window, oldest first.
    public static let backboneWindowLogits = "evaluation.backbone.window_logits"
    /// `uint8 [w]`: the labels of `backboneWindowLogits`.
    public static let backboneWindowLabels = "evaluation.backbone.window_labels"
    /// `uint8 [n]`: the backbone's `LogitHistogram`, as `adaptedHistogram`.
    public static let backboneHistogram = "evaluation.backbone.histogram"
    /// Format 4: `float64 [3]`, the summed serving-time cross-entropy of the backbone, the
    /// kernel and what was served, in nats.
    public static let servingCrossEntropy = "evaluation.serving.cross_entropy"
    /// Format 4: `int64 [2]`, examples served by the kernel, and examples without a serving
    /// score.
    public static let servingCounts = "evaluation.serving.counts"
    /// Format 4: the prefixes of the three serving-time meters (backbone, kernel, served), each
    /// followed by `.window_logits`, `.window_labels` and `.histogram` as the adapted meter's.
    public static let servingMeters = [
      "evaluation.serving.backbone", "evaluation.serving.kernel", "evaluation.serving.served",
    ]
    /// `int64 [1]`: the newest event time of the domain's examples, in milliseconds (which
    /// domains `retireDomains(keepingAtMost:where:)` takes first). Optional when reading: without
    /// it the domain counts as seen at the trainer's newest event time.
    public static let lastSeen = "last_seen_ms"
    /// Format 2 only (read, no longer written): `float32 [n]`, every logit of the adapted model,
    /// oldest first.
    public static let adaptedLogits = "evaluation.adapted.logits"
    /// Format 2 only: `uint8 [n]`, every label (1 = positive) the adapted model was scored on.
    public static let adaptedLabels = "evaluation.adapted.labels"
    /// Format 2 only: `float32 [n]`, every logit of the backbone alone, oldest first.
    public static let backboneLogits = "evaluation.backbone.logits"
    /// Format 2 only: `uint8 [n]`, every label the backbone was scored on.
    public static let backboneLabels = "evaluation.backbone.labels"
    /// `int64 [2]`: batches measured by the information proxies, and those of 2+ rows that
    /// measured the variance of mu.
    public static let proxyBatches = "proxies.batches"
    /// `float64 [6]`: mean KL, click rate, kernel cross-entropy, backbone cross-entropy, relative
    /// decoder norm, variance of mu.
    public static let proxyValues = "proxies.values"
    /// `float64 [k]`: mean KL per bottleneck dimension.
    public static let proxyKLPerDimension = "proxies.kl_per_dimension"
    /// `float32 [3]` (output bias mode only): the bias, Adam's first and second moment.
    public static let outputBias = "output_bias"
    /// `int64 [1]` (output bias mode only): Adam steps taken by the bias.
    public static let outputBiasStep = "output_bias.step"
  }

  /// The format version written in `StateTensor.trainer`.
  static let stateFormatVersion: Int64 = 5
  /// The format versions `restore(stateTensors:)` reads: 2 kept every scored (logit, label) of
  /// the evaluation, 3 keeps the sliding window and a `LogitHistogram` per model, 4 adds the
  /// serving-time meters and each pending example's serving score, 5 each pending example's use
  /// and click delay, and the domain's click-delay counts.
  static let readableStateFormatVersions: ClosedRange<Int64> = 2...5

  /// Every tensor needed to continue exactly as if never stopped: per domain (names prefixed
  /// `"<domain>/"`) the kernel's state, the open batch's pending examples and opening time, the
  /// prequential evaluation, the information proxies and, in output bias mode, the bias; plus
  /// the trainer-wide state under `.trainer/`. See `StateTensor` for the layouts.
  ///
  /// In full fine-tuning mode (an experiment) the tuned backbone is not exported, and
  /// `restore(stateTensors:)` refuses the result.
  public func stateTensors() -> [String: Tensor] {
    exportTensors(of: states, laneTimes: laneTimeMs)
  }

  /// The tensors of `stateTensors()` restricted to `states` and the lane clocks `laneTimes`.
  func exportTensors(of states: [String: DomainState], laneTimes: [Int32: Int64]) -> [String:
    Tensor]
  {
    var result = wideTensors(domains: states.keys.sorted(), laneTimes: laneTimes)
    for (domain, state) in states {
      let prefix = domain + "/"
      result.merge(state.kernel.stateTensors(prefix: prefix)) { first, _ in first }
      result[prefix + StateTensor.lane] = Tensor(
        int64s: [state.lane.map(Int64.init) ?? .min], shape: [1])
      let pending = Example.encoded(state.pending)
      result[prefix + StateTensor.pending] = Tensor(uint8s: pending, shape: [pending.count])
      let delays = state.clickDelays
      let delayCounts = ([delays.clicks, delays.delayed, delays.provisional] + delays.buckets)
        .map(Int64.init)
      result[prefix + StateTensor.clickDelays] = Tensor(
        int64s: delayCounts, shape: [delayCounts.count])
      result[prefix + StateTensor.pendingOpened] = Tensor(
        int64s: [state.pending.isEmpty ? .min : state.batchOpenedMs], shape: [1])
      let evaluation = state.evaluation
      result[prefix + StateTensor.evaluationBatches] = Tensor(
        int64s: [Int64(evaluation.batches)], shape: [1])
      result[prefix + StateTensor.evaluationCrossEntropy] = Tensor(
        doubles: [evaluation.adapted.crossEntropySum, evaluation.backbone.crossEntropySum],
        shape: [2])
      for (meter, logitsName, labelsName, histogramName) in [
        (
          evaluation.adapted, StateTensor.adaptedWindowLogits, StateTensor.adaptedWindowLabels,
          StateTensor.adaptedHistogram
        ),
        (
          evaluation.backbone, StateTensor.backboneWindowLogits,
          StateTensor.backboneWindowLabels, StateTensor.backboneHistogram
        ),
      ] {
        let window = meter.window
        result[prefix + logitsName] = Tensor(floats: window.logits, shape: [window.logits.count])
        result[prefix + labelsName] = Tensor(
          uint8s: window.labels.map { $0 ? 1 : 0 }, shape: [window.labels.count])
        let histogram = meter.histogram.encoded
        result[prefix + histogramName] = Tensor(uint8s: histogram, shape: [histogram.count])
      }
      let servingMeters = [evaluation.servingBackbone, evaluation.servingKernel, evaluation.served]
      result[prefix + StateTensor.servingCrossEntropy] = Tensor(
        doubles: servingMeters.map(\.crossEntropySum), shape: [3])
      result[prefix + StateTensor.servingCounts] = Tensor(
        int64s: [Int64(evaluation.servedByKernel), Int64(evaluation.unscored)], shape: [2])
      for (meter, name) in zip(servingMeters, StateTensor.servingMeters) {
        let window = meter.window
        result[prefix + name + ".window_logits"] = Tensor(
          floats: window.logits, shape: [window.logits.count])
        result[prefix + name + ".window_labels"] = Tensor(
          uint8s: window.labels.map { $0 ? 1 : 0 }, shape: [window.labels.count])
        let histogram = meter.histogram.encoded
        result[prefix + name + ".histogram"] = Tensor(uint8s: histogram, shape: [histogram.count])
      }
      result[prefix + StateTensor.lastSeen] = Tensor(int64s: [state.lastSeenMs], shape: [1])
      let proxies = state.proxies
      result[prefix + StateTensor.proxyBatches] = Tensor(
        int64s: [Int64(proxies.batches), Int64(proxies.muVarianceBatches)], shape: [2])
      result[prefix + StateTensor.proxyValues] = Tensor(doubles: proxies.savedValues, shape: [6])
      result[prefix + StateTensor.proxyKLPerDimension] = Tensor(
        doubles: proxies.klPerDimension, shape: [proxies.klPerDimension.count])
      result.merge(stage.stateTensors(of: state, prefix: prefix)) { first, _ in first }
    }
    return result
  }

  /// The trainer-wide tensors of an export (`StateTensor.trainer`, `.lanes`, `.domains`): the
  /// trainer's clock and mode, the clocks `laneTimes`, and the names `domains` (sorted).
  func wideTensors(domains: [String], laneTimes: [Int32: Int64]) -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    result[StateTensor.trainer] = Tensor(
      int64s: [Self.stateFormatVersion, eventTimeMs, Self.modeCode(config.mode)], shape: [3])
    let lanes = laneTimes.sorted { $0.key < $1.key }.flatMap { [Int64($0.key), $0.value] }
    result[StateTensor.lanes] = Tensor(int64s: lanes, shape: [lanes.count])
    let names = Self.encodedNames(domains)
    result[StateTensor.domains] = Tensor(uint8s: names, shape: [names.count])
    return result
  }

  /// Replaces this trainer's state (every domain, the event time) with the state exported by
  /// `stateTensors()` of a trainer made with the same backbone, kernel and training settings.
  /// Nothing changes when it throws.
  ///
  /// - Throws: `LearnerError.invalidModel` naming the domain and tensor that is missing or
  ///   malformed, or when the snapshot was taken in another adaptation mode;
  ///   `LearnerError.invalidConfiguration` in full fine-tuning mode, whose tuned backbone is not
  ///   part of the snapshot.
  public func restore(stateTensors tensors: [String: Tensor]) throws(LearnerError) {
    let parsed = try parsedState(tensors)
    states = parsed.states
    eventTimeMs = parsed.eventTimeMs
    laneTimeMs = parsed.laneTimes
    recomputeOpenBatches()
  }

  /// The domains, event time and lane clocks held by a trainer snapshot, checked.
  func parsedState(_ tensors: [String: Tensor]) throws(LearnerError) -> (
    states: [String: DomainState], eventTimeMs: Int64, laneTimes: [Int32: Int64]
  ) {
    if config.mode == .fullFineTuning {
      throw .invalidConfiguration(
        "train.mode = full_fine_tuning: trainer snapshots do not hold the tuned backbone, so "
          + "this experiment-only mode cannot be restored; restart it from the beginning")
    }
    let header = try TrainerStateReader(tensors: tensors, context: "trainer snapshot")
      .int64s(StateTensor.trainer, count: 3)
    if !Self.readableStateFormatVersions.contains(header[0]) {
      throw .invalidModel(
        "trainer snapshot: tensor '\(StateTensor.trainer)' has format version \(header[0]); "
          + "this build reads versions \(Self.readableStateFormatVersions.lowerBound) to "
          + "\(Self.readableStateFormatVersions.upperBound); restore it with the build that "
          + "wrote it")
    }
    if header[2] != Self.modeCode(config.mode) {
      throw .invalidModel(
        "trainer snapshot: it was taken in adaptation mode \(header[2]) (0 kernel, 1 output "
          + "bias, 2 full fine-tuning) but this trainer runs \(config.mode.rawValue); set "
          + "train.mode as when the snapshot was taken")
    }
    let lanes = try TrainerStateReader(tensors: tensors, context: "trainer snapshot")
      .int64s(StateTensor.lanes)
    guard lanes.count % 2 == 0,
      lanes.indices.filter({ $0 % 2 == 0 }).allSatisfy({ Int32(exactly: lanes[$0]) != nil })
    else {
      throw .invalidModel(
        "trainer snapshot: tensor '\(StateTensor.lanes)' must hold (lane, time) pairs with "
          + "32-bit lanes; it has \(lanes.count) values")
    }
    let names = try TrainerStateReader(tensors: tensors, context: "trainer snapshot")
      .uint8s(StateTensor.domains)
    let domainNames = try Self.decodedNames(names)
    var restored: [String: DomainState] = [:]
    for domain in domainNames {
      if restored[domain] != nil {
        throw .invalidModel(
          "trainer snapshot: tensor '\(StateTensor.domains)' names domain '\(domain)' twice")
      }
      restored[domain] = try restoredState(
        of: domain, from: tensors, formatVersion: header[0], eventTimeMs: header[1])
    }
    var laneTimes: [Int32: Int64] = [:]
    for index in stride(from: 0, to: lanes.count, by: 2) {
      laneTimes[Int32(lanes[index])] = lanes[index + 1]
    }
    return (restored, header[1], laneTimes)
  }

  /// The kernel of `domain` stored in `tensors` (under `<domain>/`), checked against this
  /// trainer's shape; `context` starts the error message.
  func storedKernel(of domain: String, in tensors: [String: Tensor], context: String)
    throws(LearnerError) -> IAKKernel
  {
    let kernel = try IAKKernel(domain: domain, stateTensors: tensors, prefix: domain + "/")
    if kernel.layout != engine.layout {
      throw .invalidModel(
        "\(context): the stored kernel's shape \(kernel.layout) does not match this trainer's "
          + "\(engine.layout); use the same backbone and iak.* settings")
    }
    return kernel
  }

  private func restoredState(
    of domain: String, from tensors: [String: Tensor], formatVersion: Int64, eventTimeMs: Int64
  ) throws(LearnerError) -> DomainState {
    let prefix = domain + "/"
    let reader = TrainerStateReader(tensors: tensors, context: "domain '\(domain)'", prefix: prefix)
    let kernel = try storedKernel(of: domain, in: tensors, context: "domain '\(domain)'")
    var state = makeState(domain)
    state.kernel = kernel
    if tensors[prefix + StateTensor.lane] != nil {
      let lane = try reader.int64s(StateTensor.lane, count: 1)[0]
      guard lane == .min || Int32(exactly: lane) != nil else {
        throw reader.error(StateTensor.lane, "holds \(lane), not a 32-bit lane")
      }
      state.lane = lane == .min ? nil : Int32(lane)
    }

    let pending = try Example.decoded(
      from: reader.uint8s(StateTensor.pending),
      source: "domain '\(domain)': tensor '\(prefix + StateTensor.pending)'",
      hasScores: formatVersion >= 4, hasUses: formatVersion >= 5)
    let trainingRows = pending.count { $0.use.trains }
    if trainingRows >= config.batchMax {
      throw reader.error(
        StateTensor.pending,
        "holds \(trainingRows) pending examples but a batch closes at train.batch_max = "
          + "\(config.batchMax); restore with the settings the snapshot was taken with")
    }
    if let stranger = pending.first(where: { $0.domain != domain }) {
      throw reader.error(
        StateTensor.pending, "holds an example of domain '\(stranger.domain)'")
    }
    state.pending.append(contentsOf: pending)
    if formatVersion >= 5 {
      let delays = try reader.int64s(
        StateTensor.clickDelays, count: 3 + ClickDelays.bucketBounds.count + 1)
      let buckets = delays.dropFirst(3)
      guard delays.allSatisfy({ $0 >= 0 }), delays[1] <= delays[0],
        buckets.reduce(0, +) <= delays[0]
      else {
        throw reader.error(StateTensor.clickDelays, "holds impossible counts \(delays)")
      }
      state.clickDelays = ClickDelays(
        clicks: Int(delays[0]), delayed: Int(delays[1]), provisional: Int(delays[2]),
        buckets: buckets.map { Int($0) })
    }
    if let first = pending.first {
      state.batchOpenedMs =
        tensors[prefix + StateTensor.pendingOpened] == nil
        ? first.eventTimeMs : try reader.int64s(StateTensor.pendingOpened, count: 1)[0]
    }

    let batches = try reader.int64s(StateTensor.evaluationBatches, count: 1)[0]
    let sums = try reader.doubles(StateTensor.evaluationCrossEntropy, count: 2)
    if formatVersion == 2 {
      state.evaluation.adapted = try reader.meterOfFormat2(
        logits: StateTensor.adaptedLogits, labels: StateTensor.adaptedLabels, sum: sums[0],
        windowSize: config.evaluationWindow)
      state.evaluation.backbone = try reader.meterOfFormat2(
        logits: StateTensor.backboneLogits, labels: StateTensor.backboneLabels, sum: sums[1],
        windowSize: config.evaluationWindow)
    } else {
      state.evaluation.adapted = try reader.meter(
        windowLogits: StateTensor.adaptedWindowLogits,
        windowLabels: StateTensor.adaptedWindowLabels, histogram: StateTensor.adaptedHistogram,
        sum: sums[0], windowSize: config.evaluationWindow)
      state.evaluation.backbone = try reader.meter(
        windowLogits: StateTensor.backboneWindowLogits,
        windowLabels: StateTensor.backboneWindowLabels,
        histogram: StateTensor.backboneHistogram, sum: sums[1],
        windowSize: config.evaluationWindow)
    }
    state.lastSeenMs =
      tensors[prefix + StateTensor.lastSeen] == nil
      ? eventTimeMs : try reader.int64s(StateTensor.lastSeen, count: 1)[0]
    guard batches >= 0, batches <= state.evaluation.adapted.count,
      state.evaluation.adapted.count == state.evaluation.backbone.count
    else {
      throw reader.error(
        StateTensor.evaluationBatches,
        "says \(batches) batches for \(state.evaluation.adapted.count) adapted and "
          + "\(state.evaluation.backbone.count) backbone scores; they do not fit together")
    }
    state.evaluation.batches = Int(batches)
    if formatVersion >= 4 {
      let servingSums = try reader.doubles(StateTensor.servingCrossEntropy, count: 3)
      var meters: [PrequentialMeter] = []
      for (name, sum) in zip(StateTensor.servingMeters, servingSums) {
        meters.append(
          try reader.meter(
            windowLogits: name + ".window_logits", windowLabels: name + ".window_labels",
            histogram: name + ".histogram", sum: sum, windowSize: config.evaluationWindow))
      }
      let counts = try reader.int64s(StateTensor.servingCounts, count: 2)
      guard meters[1].count == meters[0].count, meters[2].count == meters[0].count,
        counts[0] >= 0, counts[0] <= meters[0].count, counts[1] >= 0
      else {
        throw reader.error(
          StateTensor.servingCounts,
          "holds \(counts) for serving-time meters of \(meters.map(\.count)) examples; they do "
            + "not fit together")
      }
      state.evaluation.servingBackbone = meters[0]
      state.evaluation.servingKernel = meters[1]
      state.evaluation.served = meters[2]
      state.evaluation.servedByKernel = Int(counts[0])
      state.evaluation.unscored = Int(counts[1])
    } else {
      // Before format 4 nothing was scored at serving time.
      state.evaluation.unscored = state.evaluation.adapted.count
    }

    let proxyBatches = try reader.int64s(StateTensor.proxyBatches, count: 2)
    guard proxyBatches[0] >= 0, proxyBatches[1] >= 0, proxyBatches[1] <= proxyBatches[0] else {
      throw reader.error(
        StateTensor.proxyBatches, "holds impossible counts \(proxyBatches)")
    }
    state.proxies = InformationProxies(
      decay: state.proxies.decay, activeUnitThreshold: state.proxies.activeUnitThreshold,
      batches: Int(proxyBatches[0]), muVarianceBatches: Int(proxyBatches[1]),
      klPerDimension: try reader.doubles(
        StateTensor.proxyKLPerDimension, count: state.proxies.klPerDimension.count),
      values: try reader.doubles(StateTensor.proxyValues, count: 6))

    try stage.restoreState(&state, from: reader)
    return state
  }

  private static func modeCode(_ mode: AdaptationMode) -> Int64 {
    switch mode {
    case .kernel: 0
    case .outputBias: 1
    case .fullFineTuning: 2
    }
  }

  /// The domain names in the form of `StateTensor.domains`.
  private static func encodedNames(_ names: [String]) -> [UInt8] {
    var writer = ByteWriter()
    writer.append(UInt32(names.count))
    for name in names { writer.append(name) }
    return writer.bytes
  }

  private static func decodedNames(_ bytes: [UInt8]) throws(LearnerError) -> [String] {
    var reader = ByteReader(bytes)
    do throws(ByteReadError) {
      let count = try reader.readCount(minimumSize: 4)
      var names: [String] = []
      for _ in 0..<count { names.append(try reader.readString()) }
      guard reader.isAtEnd else {
        throw ByteReadError(
          "\(reader.remainingCount) bytes follow the last of \(count) domain names")
      }
      return names
    } catch {
      throw .damagedBytes("trainer snapshot: tensor '\(StateTensor.domains)'", error)
    }
  }
}

/// Reads the typed tensors of a trainer snapshot, throwing errors that name them.
struct TrainerStateReader {
  let tensors: [String: Tensor]
  /// Where the tensors belong, for messages: "domain 'x'" or "trainer snapshot".
  let context: String
  var prefix = ""

  func error(_ name: String, _ problem: String) -> LearnerError {
    .invalidModel(
      "\(context): tensor '\(prefix + name)' \(problem); restore an earlier snapshot taken "
        + "with the same settings")
  }

  private func vector(_ name: String, _ dtype: TensorDType, count: Int?) throws(LearnerError)
    -> Tensor
  {
    guard let found = tensors[prefix + name] else { throw error(name, "is missing") }
    guard found.dtype == dtype else {
      throw error(name, "is \(found.dtype.rawValue), expected \(dtype.rawValue)")
    }
    guard found.shape.count == 1, count == nil || found.shape[0] == count else {
      throw error(
        name, "has shape \(found.shape), expected [\(count.map(String.init) ?? "n")]")
    }
    return found
  }

  // The dtype is checked first, so the typed accessors below cannot fail.

  func int64s(_ name: String, count: Int? = nil) throws(LearnerError) -> [Int64] {
    let found = try vector(name, .i64, count: count)
    return (try? found.int64s()) ?? []
  }

  func doubles(_ name: String, count: Int) throws(LearnerError) -> [Double] {
    let found = try vector(name, .f64, count: count)
    return (try? found.doubles()) ?? []
  }

  func floats(_ name: String, count: Int? = nil) throws(LearnerError) -> [Float] {
    let found = try vector(name, .f32, count: count)
    return (try? found.floats()) ?? []
  }

  func uint8s(_ name: String, count: Int? = nil) throws(LearnerError) -> [UInt8] {
    try vector(name, .u8, count: count).bytes
  }

  /// Labels stored as bytes, each 0 or 1.
  func labels(_ name: String, count: Int? = nil) throws(LearnerError) -> [Bool] {
    let bytes = try uint8s(name, count: count)
    guard bytes.allSatisfy({ $0 <= 1 }) else {
      throw error(name, "holds a label other than 0 or 1")
    }
    return bytes.map { $0 == 1 }
  }

  /// A format 3 meter: its window and histogram, with the summed cross-entropy `sum`.
  func meter(
    windowLogits logitsName: String, windowLabels labelsName: String,
    histogram histogramName: String,
    sum: Double, windowSize: Int
  ) throws(LearnerError) -> PrequentialMeter {
    let logits = try floats(logitsName)
    let labels = try labels(labelsName, count: logits.count)
    guard let histogram = LogitHistogram(encoded: try uint8s(histogramName)) else {
      throw error(
        histogramName,
        "is no histogram: it must hold, per bin, a u16 bin below \(LogitHistogram.binCount) "
          + "(ascending) and two varint counts, not both 0")
    }
    let windowPositives = Int64(labels.reduce(0) { $0 + ($1 ? 1 : 0) })
    guard Int64(logits.count) <= histogram.count, windowPositives <= histogram.positives,
      Int64(logits.count) - windowPositives <= histogram.negatives
    else {
      throw error(
        logitsName,
        "holds \(logits.count) window examples (\(windowPositives) positive) but the histogram "
          + "counts only \(histogram.count) (\(histogram.positives) positive)")
    }
    return PrequentialMeter(
      windowSize: windowSize, crossEntropySum: sum, histogram: histogram, windowLogits: logits,
      windowLabels: labels)
  }

  /// A format 2 meter, which kept every logit and label: converted to a window and histogram.
  func meterOfFormat2(
    logits logitsName: String, labels labelsName: String, sum: Double, windowSize: Int
  )
    throws(LearnerError) -> PrequentialMeter
  {
    let logits = try floats(logitsName)
    return PrequentialMeter(
      windowSize: windowSize, crossEntropySum: sum, logits: logits,
      labels: try labels(labelsName, count: logits.count))
  }
}

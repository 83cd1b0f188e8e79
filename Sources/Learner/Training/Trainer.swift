import Base
import Observability

/// Trains one adaptation per domain on a frozen backbone from a stream of examples, with
/// dynamic batch-aware batching and prequential evaluation.
///
/// Each domain collects its own batch, which closes when it holds `train.batch_max` examples or
/// when it has been open for `train.batch_max_wait` of event time, so a quiet domain still learns
/// and a hot one cannot starve the others. Time is kept per lane (the input partition an example
/// came from): a lane's clock is the newest event time seen on it, from any of its domains, and a
/// batch's wait starts on its lane's clock when its first example arrives, not at the example's
/// own event time (an example labelled late, such as a negative known only `label.wait` after its
/// impression, must not find its batch already overdue). Lanes keep their own clocks so that the
/// way a consumer interleaves partitions never changes a kernel. When a batch closes, every
/// example is first scored by the domain's current
/// kernel and by the backbone alone (prequential evaluation, information proxies), then the kernel
/// takes `train.steps_per_batch` Adam steps on it at a learning rate scaled to the batch's real
/// size. Time is event time only; given the same examples in the same order, the kernels are
/// bit-identical.
///
/// Not thread-safe: one pipeline task owns a trainer. With `train.threads` > 1 the batches that
/// close in one call (time-outs of several domains, `flush`) train at once on the trainer's own
/// threads (`closeBatches(of:reason:)`); the call still returns once they are all done, with the
/// same reports in the same order as on one thread.
public final class Trainer {
  /// The frozen backbone (never modified).
  public let backbone: Backbone
  /// Kernel shape and loss.
  public let kernelConfig: KernelConfig
  /// Training settings.
  public let config: TrainConfig
  let engine: KernelEngine
  /// A one-row engine for scoring arriving impressions (`servingScore(for:)`), apart from the
  /// training engine's prepared batch.
  private let servingEngine: KernelEngine
  /// The frozen layers' output of the impressions scored recently, for their batches
  /// (`config.frozenRows`).
  let frozenRows: FrozenRows
  /// The engines that close batches of several domains at once (`train.threads` > 1; nil on
  /// one thread); the first is `engine`.
  let workers: TrainingWorkers?
  let logger: Logger
  var states: [String: DomainState] = [:]
  /// The newest event time seen on any lane, in milliseconds.
  public internal(set) var eventTimeMs: Int64 = .min
  /// The newest event time seen per lane, in milliseconds.
  public internal(set) var laneTimeMs: [Int32: Int64] = [:]
  /// Per lane, the open batches of that lane by the time they opened, so that an event finds
  /// the batches it closes without a look at every domain (with 2,000 domains that look cost
  /// more than the training). Every open batch has its entry; an entry can be stale (its batch
  /// closed, or closed and opened again later) and is checked against the domain's state when it
  /// comes out. Built again from the states wherever they change in bulk, and when stale entries
  /// pile up (`compactOpenBatches`).
  var openBatches: [Int32: MinHeap<OpenBatch>] = [:]
  /// What `config.mode` adapts, and how: scores, trains on closed batches, adds to snapshots.
  let stage: any AdaptationStage
  /// When set, every closed batch's wall time (scoring, proxies and its optimiser steps) is
  /// observed here, e.g. `LearnerMetrics.stepDuration`; the kernels do not depend on it.
  public var stepDuration: Metric?
  /// When set, every closed batch adds its rows that copied their frozen layers' output kept
  /// from their serving scores to `kept`, and the others to `computed` (e.g.
  /// `LearnerMetrics.frozenRows`).
  public var frozenRowCounters: (kept: Metric, computed: Metric)?

  /// Creates a trainer with no domain yet.
  ///
  /// - Throws: `LearnerError.invalidConfiguration` when a setting is out of range or the kernel
  ///   does not fit the backbone.
  public init(
    backbone: Backbone, kernelConfig: KernelConfig, config: TrainConfig,
    logger: Logger = .disabled
  ) throws(LearnerError) {
    try config.validate()
    try kernelConfig.validate(for: backbone.config)
    self.backbone = backbone
    self.kernelConfig = kernelConfig
    self.config = config
    self.engine = KernelEngine(backbone: backbone, config: kernelConfig, capacity: config.batchMax)
    self.servingEngine = KernelEngine.serving(backbone: backbone, config: kernelConfig, capacity: 1)
    self.frozenRows = FrozenRows(width: engine.layout.width, capacity: config.frozenRows)
    let threads = config.effectiveThreads
    self.workers = threads > 1 ? TrainingWorkers(threads: threads, first: engine) : nil
    self.logger = logger
    self.stage = config.mode.makeStage(
      backbone: backbone, config: config, optimizer: AdamOptimizer(config))
  }

  /// The fine-tuned copy of the backbone in `.fullFineTuning` mode.
  public var tunedBackbone: Backbone? { (stage as? FullFineTuningStage)?.tuned }

  /// Domains seen so far, sorted.
  public var domains: [String] { states.keys.sorted() }

  /// The kernel of `domain`, if the domain exists.
  public func kernel(for domain: String) -> IAKKernel? { withState(domain) { $0.kernel } }

  /// Whether `domain` has a kernel that has seen `domain.min_examples` (`IAKKernel.isActive`);
  /// asked per impression, so read in place rather than through a copy of the kernel.
  public func hasActiveKernel(_ domain: String) -> Bool {
    withState(domain) { $0.kernel.isActive } ?? false
  }

  /// Every domain's kernel.
  public var kernels: [String: IAKKernel] { states.mapValues(\.kernel) }

  /// The per-domain output bias (`.outputBias` mode).
  public func outputBias(for domain: String) -> OutputBias? { withState(domain) { $0.bias } }

  /// The prequential evaluation of `domain`.
  public func evaluation(for domain: String) -> DomainEvaluation? {
    withState(domain) { $0.evaluation }
  }

  /// The information proxies of `domain` (kernel mode).
  public func proxies(for domain: String) -> InformationProxies? {
    withState(domain) { $0.proxies }
  }

  /// The examples waiting in `domain`'s open batch (for snapshots).
  public func pendingExamples(for domain: String) -> [Example] { states[domain]?.pending ?? [] }

  /// Scores `example` as a serving system would at this moment: the backbone's logit and the
  /// logit with its domain's kernel (bias, tuned backbone) as it now stands, z = mu; the
  /// backbone's for both when the domain has no kernel yet. `servesKernel` is left false: whether
  /// the kernel serves is the caller's decision (activation, drift, the serving guard).
  ///
  /// Nothing changes: scoring between two training steps does not alter a kernel.
  public func servingScore(for example: Example) -> ServingScore {
    servingScore(for: example, input: nil)
  }

  /// `servingScore(for:)` of `example`, whose frozen backbone's part `input` a
  /// `ServingPreparer` of this trainer computed ahead (nil: computed here). Bit for bit the
  /// same score: the same frozen layers on the same features, each row on its own either way
  /// (`BLAS.multiplyRowByRow`), however many impressions the preparer ran together.
  public func servingScore(for example: Example, input: ServingInput?) -> ServingScore {
    servingScore(in: example.domain, input: input) { example }
  }

  /// `servingScore(for:input:)` of the example `example()` makes in `domain`, made only where
  /// it is needed: to prepare the frozen part when `input` is nil, or for a stage that scores
  /// more than the frozen part and the kernel (`train.mode = full_fine_tuning`). With `input`
  /// prepared ahead the kernel scores without one (building it was about 2.4% of serve's
  /// training thread).
  public func servingScore(
    in domain: String, input: ServingInput?, example: () -> Example
  ) -> ServingScore {
    // Built at most once: the preparation and a stage that scores the whole example
    // (`full_fine_tuning`) may both ask for it.
    var built: Example?
    func once() -> Example {
      if let built { return built }
      let made = example()
      built = made
      return made
    }
    if let input {
      servingEngine.load(input)
    } else {
      servingEngine.prepare(CollectionOfOne(once()))
    }
    let backboneLogit = servingEngine.backboneLogits[0]
    // Kept before the stage scores: a stage may run other layers in the engine's workspace
    // (`full_fine_tuning` embeds into it for its tuned copy).
    let ticket = frozenRows.keep(servingEngine.representation)
    let kernelLogit =
      withState(domain) {
        stage.servingLogit(of: once, state: &$0, engine: servingEngine)
      } ?? stage.servingLogitWithoutState(of: once, engine: servingEngine)
    return ServingScore(
      backboneLogit: backboneLogit, kernelLogit: kernelLogit, servesKernel: false,
      frozenRow: ticket)
  }

  /// How many rows of closed batches were copied from their serving scores' frozen rows
  /// (`TrainConfig.frozenRows`), and how many had their frozen layers run again.
  public var frozenRowCounts: (kept: Int, computed: Int) {
    let engines = workers?.engines ?? [engine]
    return engines.reduce((0, 0)) { ($0.0 + $1.keptRows, $0.1 + $1.computedRows) }
  }

  /// Bytes the ring of frozen rows holds (`TrainConfig.frozenRows` rows, allocated at the first
  /// impression scored): the trainer's, not any domain's.
  public var frozenRowBytes: Int { frozenRows.heldBytes }

  /// A preparer of the serving scores' frozen part for another thread (`ServingPreparer`).
  public func makeServingPreparer() -> ServingPreparer { servingPreparers()() }

  /// Makes `makeServingPreparer()`'s preparers from any thread, without the trainer.
  public func servingPreparers() -> @Sendable () -> ServingPreparer {
    let backbone = backbone
    let kernelConfig = kernelConfig
    return {
      ServingPreparer(
        engine: KernelEngine.serving(
          backbone: backbone, config: kernelConfig, capacity: ServingPreparer.rowsPerPass))
    }
  }

  /// Adds one example: closes the batches that have waited long enough at the example's event
  /// time, adds it to its domain's batch and closes that batch if full.
  ///
  /// Returns the batches closed, in closing order.
  public func process(_ example: Example) -> [BatchReport] {
    var example = example
    if config.delayedFeedback == nil {
      // Click delays are state only where they weigh the loss: with label.mode = wait the
      // state (its pending examples included) stays what it was before they existed.
      example.clickDelayMs = nil
      example.correctsProvisional = false
    }
    let lane = example.lane
    var reports = advanceEventTime(to: example.eventTimeMs, lane: lane)
    let domain = example.domain
    if states.index(forKey: domain) == nil { states[domain] = makeState(domain) }
    // One in-place access: each `states[domain]!.field` read would copy the whole state.
    let openingMs = laneTimeMs[lane] ?? example.eventTimeMs
    let (opened, isFull) = withState(domain) {
      Self.add(example, openingAt: openingMs, batchMax: config.batchMax, to: &$0)
    }!
    if let opened {
      openBatches[lane, default: MinHeap()].insert(OpenBatch(openedMs: opened, domain: domain))
      compactOpenBatches(lane)
    }
    if isFull {
      reports.append(closeBatch(of: domain, reason: .full))
    }
    return reports
  }

  /// Adds `example` to `state`'s open batch, opening it at `openingAt` when it is empty, and
  /// counts its click delay. Returns when the batch was opened (nil if it was open already) and
  /// whether it now holds `batchMax` training rows.
  private static func add(
    _ example: Example, openingAt openingMs: Int64, batchMax: Int, to state: inout DomainState
  ) -> (opened: Int64?, isFull: Bool) {
    if state.lane == nil { state.lane = example.lane }
    var opened: Int64?
    if state.pending.isEmpty {
      state.batchOpenedMs = openingMs
      opened = openingMs
    }
    state.pending.append(example)
    state.lastSeenMs = max(state.lastSeenMs, example.eventTimeMs)
    guard example.use.trains else { return (opened, false) }
    if example.label > 0.5, let delay = example.clickDelayMs {
      state.clickDelays.recordClick(
        delayMs: delay, correctsProvisional: example.correctsProvisional)
    } else if example.use == .train && example.label < 0.5 {
      state.clickDelays.provisional += 1
    }
    return (opened, state.trainingRows >= batchMax)
  }

  /// Runs `body` on `domain`'s state in place and returns what it returns (nil for an unknown
  /// domain). Reading through `states[domain]?` or `states.values[index]`, and even modifying
  /// through `states[domain]!`, copies the whole state (every array and table in it retained,
  /// then released); a modify access to `states.values[index]` does not. Readers use it too.
  func withState<Result>(_ domain: String, _ body: (inout DomainState) -> Result) -> Result? {
    guard let index = states.index(forKey: domain) else { return nil }
    return body(&states.values[index])
  }

  /// Moves `lane`'s event time forward (never back) and closes every batch of that lane (the
  /// lane of its first example) that has now been open for at least `train.batch_max_wait`, in
  /// domain-name order.
  public func advanceEventTime(to timeMs: Int64, lane: Int32 = 0) -> [BatchReport] {
    eventTimeMs = max(eventTimeMs, timeMs)
    let now = max(laneTimeMs[lane] ?? .min, timeMs)
    laneTimeMs[lane] = now
    var due: Set<String> = []
    while let earliest = openBatches[lane]?.minimum, hasWaited(now, since: earliest.openedMs) {
      openBatches[lane]!.removeMinimum()
      if isOpen(earliest, lane: lane) { due.insert(earliest.domain) }
    }
    guard !due.isEmpty else { return [] }
    return closeBatches(of: due.sorted(), reason: .waited)
  }

  /// Whether `entry` stands for the batch its domain has open now in `lane`.
  private func isOpen(_ entry: OpenBatch, lane: Int32) -> Bool {
    withState(entry.domain) { state in
      state.pending.first?.lane == lane && state.batchOpenedMs == entry.openedMs
    } ?? false
  }

  /// Whether `train.batch_max_wait` of event time has passed between `openedMs` and `now`
  /// (without overflowing at the ends of the Int64 range).
  private func hasWaited(_ now: Int64, since openedMs: Int64) -> Bool {
    let (elapsed, overflow) = now.subtractingReportingOverflow(openedMs)
    return overflow ? now > openedMs : elapsed >= config.batchMaxWaitMs
  }

  /// An open batch in `openBatches`: when it opened and whose it is, ordered by that time (then
  /// by domain, so that the order is total).
  struct OpenBatch: Comparable, Sendable {
    /// When the batch opened, in event-time milliseconds of its lane.
    var openedMs: Int64
    /// Its domain.
    var domain: String

    /// Earlier opening first; at the same time, by domain name.
    static func < (lhs: OpenBatch, rhs: OpenBatch) -> Bool {
      (lhs.openedMs, lhs.domain) < (rhs.openedMs, rhs.domain)
    }
  }

  /// Builds `openBatches` again from the domains' open batches.
  func recomputeOpenBatches() {
    openBatches.removeAll(keepingCapacity: true)
    for index in states.indices {
      let (domain, state) = (states.keys[index], states.values[index])
      guard let lane = state.pending.first?.lane else { continue }
      openBatches[lane, default: MinHeap()].insert(
        OpenBatch(openedMs: state.batchOpenedMs, domain: domain))
    }
  }

  /// Builds `openBatches` again when `lane`'s entries outnumber the domains four times over
  /// (plus a margin): stale entries leave only when their time has passed, which with a long
  /// `train.batch_max_wait` and batches that close full could take long. A rebuild costs
  /// O(domains log domains) and comes at most once every 3 x domains + 1,024 insertions.
  private func compactOpenBatches(_ lane: Int32) {
    if let count = openBatches[lane]?.count, count > 4 * states.count + 1_024 {
      recomputeOpenBatches()
    }
  }

  /// Closes every open batch (end of input or shutdown), in domain-name order.
  public func flush() -> [BatchReport] {
    closeBatches(of: states.filter { !$0.value.pending.isEmpty }.keys.sorted(), reason: .flushed)
  }

  /// Installs `kernel` (e.g. restored from a snapshot) as its domain's kernel, with `pending`
  /// as the domain's open batch, opened at `batchOpenedMs` of event time (default: the first
  /// pending example's event time).
  ///
  /// - Throws: `LearnerError.invalidModel` when the kernel's shape does not fit this trainer.
  public func install(_ kernel: IAKKernel, pending: [Example] = [], batchOpenedMs: Int64? = nil)
    throws(LearnerError)
  {
    if kernel.layout != engine.layout {
      throw .invalidModel(
        "kernel of domain '\(kernel.domain)': shape \(kernel.layout) does not match this "
          + "trainer's \(engine.layout); restore it with the same backbone and iak.* settings")
    }
    var state = states[kernel.domain] ?? makeState(kernel.domain)
    state.kernel = kernel
    // At most a batch less one of training rows, with the serving-time records among them.
    state.pending = []
    var trainingRows = 0
    for example in pending {
      if example.use.trains {
        guard trainingRows < config.batchMax - 1 else { break }
        trainingRows += 1
      }
      state.pending.append(example)
    }
    if let first = state.pending.first {
      state.batchOpenedMs = batchOpenedMs ?? first.eventTimeMs
    }
    states[kernel.domain] = state
    // The domain's own entry; one it had before is stale now and is skipped when it comes out.
    if let lane = state.pending.first?.lane {
      openBatches[lane, default: MinHeap()].insert(
        OpenBatch(openedMs: state.batchOpenedMs, domain: kernel.domain))
      compactOpenBatches(lane)
    }
  }

  /// Starts `domain` from a copy of `previous`'s kernel (warm start of a new rolling period).
  /// Does nothing when `domain` already exists or `previous` does not.
  public func startDomain(_ domain: String, warmFrom previous: String) {
    guard states.index(forKey: domain) == nil, let source = kernel(for: previous) else { return }
    var state = makeState(domain)
    state.kernel = source.copy(for: domain, seed: config.seed)
    states[domain] = state
  }

  func makeState(_ domain: String) -> DomainState {
    DomainState(
      kernel: IAKKernel(
        domain: domain, layout: engine.layout, seed: config.seed),
      batchMax: config.batchMax, windowSize: config.evaluationWindow,
      proxies: InformationProxies(
        dimensions: kernelConfig.bottleneck, decay: Double(config.proxyDecay),
        activeUnitThreshold: Double(kernelConfig.activeUnitThreshold)))
  }

  private func closeBatch(of domain: String, reason: BatchClosing) -> BatchReport {
    withState(domain) { closeBatch(of: domain, reason: reason, state: &$0, engine: engine) }!
  }

  /// Closes `domain`'s batch held in `state`, prepared and trained in `engine`: what
  /// `closeBatch(of:reason:)` does, on state taken out of `states`, so that batches of
  /// different domains can close at once on different engines (`closeBatches(of:reason:)`).
  /// Reads nothing of the trainer that a batch closing changes.
  func closeBatch(
    of domain: String, reason: BatchClosing, state: inout DomainState, engine: KernelEngine
  ) -> BatchReport {
    let pending = state.pending
    // With label.mode = wait every example trains and is evaluated; a delayed-feedback mode
    // trains on its biased copies and evaluates the final labels apart.
    let isSplit = config.delayedFeedback != nil || pending.contains { $0.use != .trainAndEvaluate }
    let batch = isSplit ? pending.filter(\.use.trains) : pending
    let evaluated = isSplit ? pending.filter(\.use.evaluates) : pending
    let rows = batch.count
    let rate = rows > 0 ? config.learningRate(forBatchOf: rows) : 0
    var loss: Float = 0
    if rows > 0 {
      let started = stepDuration == nil ? nil : ContinuousClock.now
      let prepared = engine.prepare(batch, reusing: frozenRows)
      if let counters = frozenRowCounters {
        counters.kept.increment(by: Double(prepared.kept))
        counters.computed.increment(by: Double(prepared.computed))
      }
      let delayedFraction = config.delayedFeedback.map {
        $0.delayedFraction(of: state.clickDelays)
      }
      loss = stage.train(
        on: batch, state: &state, engine: engine, rate: rate,
        steps: config.stepsPerBatch, delayedFraction: delayedFraction)
      if let started { stepDuration?.observe((ContinuousClock.now - started).inSeconds) }
    }
    var report = BatchReport(
      domain: domain, reason: reason, size: rows,
      lastEventTimeMs: pending.last?.eventTimeMs ?? eventTimeMs, learningRate: rate,
      trainingLoss: config.stepsPerBatch > 0 ? loss / Float(config.stepsPerBatch) : 0,
      adaptedLogits: Array(UnsafeBufferPointer(start: engine.kernelLogits, count: rows)),
      backboneLogits: Array(UnsafeBufferPointer(start: engine.backboneLogits, count: rows)),
      labels: Array(UnsafeBufferPointer(start: engine.workspace.labels, count: rows)),
      servingScores: evaluated.map(\.servingScore), servingLabels: evaluated.map(\.label),
      isActive: false)
    state.record(report)
    state.kernel.examplesSeen += rows
    if state.kernel.examplesSeen >= config.activationMinExamples {
      state.kernel.isActive = true
    }
    state.pending.removeAll(keepingCapacity: true)
    state.batchOpenedMs = .min
    report.isActive = state.kernel.isActive
    logger.debug(
      "batch closed",
      [
        "domain": domain, "reason": reason.rawValue, "size": "\(rows)",
        "learning_rate": Logger.figure(Double(rate)),
        "loss": Logger.figure(Double(report.trainingLoss)),
      ])
    return report
  }
}

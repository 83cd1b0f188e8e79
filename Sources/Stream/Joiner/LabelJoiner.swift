import Base
import Observability

/// Labels impressions with their clicks in event time (`label.*` in pipeline.conf).
///
/// An impression waits up to `wait` of event time for its click: a click labels it positive and
/// is consumed; once the partition's watermark passes `time + wait` it becomes a negative. A
/// clicked impression leaves at its click, or with `releasesInImpressionOrder` at its deadline
/// like the others (examples then leave in impression order). An
/// impression that carries its own label passes straight through. Each partition has its own
/// event time: its watermark is the largest event time seen minus `maxOutOfOrderness`, and events
/// older than the watermark are late. A click that arrives before its impression is kept until the
/// watermark passes the click's time, so out-of-order pairs within the bound still join.
///
/// Clicks that label nothing are counted by reason (duplicate, late, orphan, overflow), never
/// dropped silently. At most `maxPending` impressions, holding at most `maxPendingBytes`, wait
/// per partition (and as many early clicks, in as many bytes); past either bound the one with
/// the earliest deadline is labelled negative at once and counted as evicted, by the bound that
/// pushed it out. A waiting impression keeps only the features training reads (`keptFeatures`).
/// The whole state exports to plain arrays (`exportState()`) and restores from them.
///
/// That is `Mode.wait`. The delayed-feedback modes (`Mode.fakeNegative`, `Mode.esDFM`) send an
/// impression to training before its label is known: as a provisional negative at once or when
/// its observation window ends (unless clicked within it), then its click, if one comes within
/// the wait, as a positive training copy; each impression's final label leaves apart, with its
/// serving score, as an `.evaluate` record (`ExampleUse`) at its deadline, in impression order
/// like `releasesInImpressionOrder` releases them.
public struct LabelJoiner: Sendable {
  /// The joiner's settings.
  public struct Configuration: Sendable, Equatable {
    /// How long an impression waits for its click, in milliseconds of event time (`label.wait`).
    public var waitMilliseconds: Int64
    /// How far behind the newest event an event may arrive and still count as on time
    /// (`label.max_out_of_orderness`), in milliseconds.
    public var maxOutOfOrdernessMilliseconds: Int64
    /// The most impressions (and, separately, early clicks) kept per partition
    /// (`label.max_pending`).
    public var maxPending: Int
    /// The most bytes (`HeldBytes`, estimated from the contents) the waiting impressions of a
    /// partition hold, and separately its early clicks and its remembered ids
    /// (`label.max_pending_bytes`). An impression that alone holds more never waits: it is
    /// labelled at once.
    public var maxPendingBytes: Int
    /// Whether a clicked impression waits out its wait like an unclicked one, so that examples
    /// leave in impression order whatever their label (`label.release = in_order`); false
    /// releases it at its click (`on_click`): fresher positives, but the trainer then sees
    /// clicks a whole wait before the negatives of the same moment (delayed feedback).
    public var releasesInImpressionOrder: Bool
    /// How far ahead of its partition's clock (or of the wall clock, when one is given) an event
    /// may be and still be admitted (`event.max_future`); `Int64.max` admits any.
    public var maxFutureMilliseconds: Int64
    /// How far behind its partition's clock an event may be and still be admitted
    /// (`event.max_past`); `Int64.max` admits any.
    public var maxPastMilliseconds: Int64
    /// The most new domains one partition starts per day of its event-time clock
    /// (`domain.max_new_per_day`).
    public var maxNewDomainsPerDay: Int
    /// The features (categorical and numeric names) an impression keeps from the joiner on:
    /// what training reads (`Event.keepingOnly(_:)`); nil keeps every feature.
    public var keptFeatures: Set<String>?
    /// How labels reach training (`label.mode`).
    public var mode: Mode
    /// With `.esDFM`, how long (event time) an impression waits for its click before it goes to
    /// training as a provisional negative (`label.window`); at most `waitMilliseconds`. With
    /// `.fakeNegative` it is 0 (an impression trains at once); `.wait` ignores it.
    public var observationWindowMilliseconds: Int64

    /// Creates a configuration; negative durations count as zero and `maxPending`,
    /// `maxPendingBytes` and `maxNewDomainsPerDay` as at least 1; the observation window is
    /// bounded by the wait, and is 0 with `.fakeNegative`.
    public init(
      waitMilliseconds: Int64 = 60_000, maxOutOfOrdernessMilliseconds: Int64 = 5_000,
      maxPending: Int = 1_000_000, maxPendingBytes: Int = 256 << 20,
      releasesInImpressionOrder: Bool = false,
      maxFutureMilliseconds: Int64 = .max, maxPastMilliseconds: Int64 = .max,
      maxNewDomainsPerDay: Int = .max, keptFeatures: Set<String>? = nil, mode: Mode = .wait,
      observationWindowMilliseconds: Int64 = 0
    ) {
      self.waitMilliseconds = max(0, waitMilliseconds)
      self.maxOutOfOrdernessMilliseconds = max(0, maxOutOfOrdernessMilliseconds)
      self.maxPending = max(1, maxPending)
      self.maxPendingBytes = max(1, maxPendingBytes)
      self.releasesInImpressionOrder = releasesInImpressionOrder
      self.maxFutureMilliseconds = max(0, maxFutureMilliseconds)
      self.maxPastMilliseconds = max(0, maxPastMilliseconds)
      self.maxNewDomainsPerDay = max(1, maxNewDomainsPerDay)
      self.keptFeatures = keptFeatures
      self.mode = mode
      self.observationWindowMilliseconds =
        mode == .fakeNegative
        ? 0 : min(max(0, observationWindowMilliseconds), self.waitMilliseconds)
    }

    /// Whether training sees the biased stream of a delayed-feedback mode (`.fakeNegative`,
    /// `.esDFM`) rather than final labels.
    public var isBiased: Bool { mode != .wait }
  }

  /// How labels reach training (`label.mode`; README, "Delayed feedback").
  public enum Mode: String, Sendable, CaseIterable {
    /// An impression trains once its label is final: at its click or when `label.wait` ends.
    case wait
    /// An impression trains at once as a provisional negative, and again as a positive if its
    /// click comes within `label.wait` (Ktena et al. 2019, fake-negative weighting).
    case fakeNegative = "fake_negative"
    /// An impression trains when its click comes within `label.window`, or as a provisional
    /// negative when the window ends; a click after that (within `label.wait`) trains it again
    /// as a positive (Yang et al. 2021, elapsed-time sampling).
    case esDFM = "es_dfm"
  }

  /// Why an impression got its label.
  public enum Outcome: String, Sendable, CaseIterable {
    /// A click arrived within the wait: positive.
    case clicked
    /// The wait expired without a click: negative.
    case expired
    /// Pushed out early by `maxPending` or `maxPendingBytes`: negative.
    case evicted
    /// The impression carried its own label.
    case preLabelled = "prelabelled"
    /// A delayed-feedback mode sent it to training as a negative before its label was known
    /// (a training copy only; its final label leaves later as one of the outcomes above).
    case provisional
  }

  /// Which bound pushed a waiting impression out early; the `reason` label of
  /// `iak_label_evictions_total`.
  public enum Eviction: String, Sendable, CaseIterable {
    /// `maxPending` impressions were waiting.
    case count
    /// The waiting impressions held more than `maxPendingBytes`, or the impression alone would.
    case bytes
  }

  /// An impression with its label, ready for training.
  public struct LabelledExample: Sendable, Equatable {
    /// The impression (its `label` field is left as it arrived; of its features, only
    /// `Configuration.keptFeatures`).
    public var impression: Event
    /// Whether it was clicked.
    public var label: Bool
    /// Why it got this label.
    public var outcome: Outcome
    /// The partition's watermark when it was emitted, in epoch milliseconds of event time.
    public var emittedAtMilliseconds: Int64
    /// The partition whose joiner emitted it (its event-time clock).
    public var partition: Int32
    /// What it was scored with when it arrived (nil when the caller scored nothing, and on the
    /// training copies of a delayed-feedback mode: only its `.evaluate` record carries it).
    public var score: ServingScore?
    /// Whether it trains, counts in the serving-time figures, or both.
    public var use: ExampleUse
    /// For a positive labelled by a click, the click's event time minus the impression's, in
    /// milliseconds (0 when the click came first); nil otherwise.
    public var clickDelayMilliseconds: Int64?
    /// Whether this positive training copy corrects a provisional negative sent earlier (a
    /// fake negative).
    public var correctsProvisional: Bool
    /// The ticket to the impression's frozen layers' output (`ServingScore.frozenRow`), on
    /// every copy, the training copies of a delayed-feedback mode too.
    public var frozenRow: FrozenRowTicket

    /// Creates a labelled example.
    public init(
      impression: Event, label: Bool, outcome: Outcome, emittedAtMilliseconds: Int64,
      partition: Int32 = 0, score: ServingScore? = nil, use: ExampleUse = .trainAndEvaluate,
      clickDelayMilliseconds: Int64? = nil, correctsProvisional: Bool = false,
      frozenRow: FrozenRowTicket? = nil
    ) {
      self.impression = impression
      self.label = label
      self.outcome = outcome
      self.emittedAtMilliseconds = emittedAtMilliseconds
      self.partition = partition
      self.score = score
      self.use = use
      self.clickDelayMilliseconds = clickDelayMilliseconds
      self.correctsProvisional = correctsProvisional
      self.frozenRow = frozenRow ?? score?.frozenRow ?? .none
    }
  }

  /// The settings this joiner runs with.
  public let configuration: Configuration
  /// What the joiner has done so far.
  public private(set) var counts = Counts()
  var partitions: [Int32: JoinerPartition] = [:]
  private let metrics: JoinerMetrics?
  /// The categorical names of the last impression with nothing to drop
  /// (`Event.keepingOnly(_:sameAs:)`).
  private var keptNames: [String] = []
  /// `pendingCount` and `heldBytes` over all partitions, kept up to date as each event changes
  /// its partition (and counted again after the rarer changes of many): the gauges read them
  /// after every event, and summing the partitions each time cost ~3% of the training thread.
  private(set) var totals = Totals()

  struct Totals {
    var pending = 0
    var held = HeldBytes()
    /// The partitions' `writtenBytes`: set when they serialize, counted again with the rest.
    var checkpointCopy = 0
  }

  /// Creates an empty joiner; with `metrics` it also counts into `iak_label_*` metrics.
  public init(configuration: Configuration = Configuration(), metrics: MetricsRegistry? = nil) {
    self.configuration = configuration
    self.metrics = metrics.map(JoinerMetrics.init)
  }

  /// Creates a joiner holding `state`, as exported by `exportState()`.
  public init(
    configuration: Configuration = Configuration(), restoring state: State,
    metrics: MetricsRegistry? = nil
  ) {
    self.init(configuration: configuration, metrics: metrics)
    counts = state.counts
    for partition in state.partitions {
      partitions[partition.partition] = JoinerPartition(
        restoring: partition, keepingFeatures: configuration.keptFeatures)
    }
    recountTotals()
  }

  /// Everything the joiner holds, in canonical order, for a snapshot.
  public func exportState() -> State {
    State(
      partitions: partitions.keys.sorted().map { partitions[$0]!.exportState(partition: $0) },
      counts: counts)
  }

  /// The state of `partition` alone, with zero running totals (they stay with the joiner that
  /// counted them): what moves with the partition to another process.
  public func exportState(partition: Int32) -> State {
    State(partitions: partitions[partition].map { [$0.exportState(partition: partition)] } ?? [])
  }

  /// `exportState().serialized()`, each partition's block taken from `blocks` when it holds one
  /// and otherwise written and added to it. A partition's waiting impressions that the block
  /// it wrote before held, unchanged since, are copied from that block: what a checkpoint
  /// serializes is what arrived or changed since the one before.
  public mutating func serializedState(blocks: inout [Int32: [UInt8]]) -> [UInt8] {
    var ordered: [[UInt8]] = []
    for partition in partitions.keys.sorted() {
      if let block = blocks[partition] {
        ordered.append(block)
      } else {
        let block = partitions[partition]!.serializedBlock(partition: partition)
        blocks[partition] = block
        ordered.append(block)
      }
    }
    totals.checkpointCopy = partitions.values.reduce(0) { $0 + $1.writtenBytes }
    updateGauges()
    return State.serialized(counts: counts, blocks: ordered)
  }

  /// `exportState(partition:).serialized()`, made of `partition`'s block in `blocks` when it
  /// holds one (filled by `serializedState(blocks:)` of the same, unchanged joiner).
  public func serializedState(partition: Int32, reusing blocks: [Int32: [UInt8]]) -> [UInt8] {
    guard let block = blocks[partition] else {
      return exportState(partition: partition).serialized()
    }
    return State.serialized(counts: Counts(), blocks: [block])
  }

  /// Takes over the partitions of `state` (from `exportState(partition:)` of another joiner),
  /// replacing any of the same number; this joiner's running totals stay as they are.
  public mutating func adoptPartitions(of state: State) {
    for partition in state.partitions {
      partitions[partition.partition] = JoinerPartition(
        restoring: partition, keepingFeatures: configuration.keptFeatures)
    }
    recountTotals()
  }

  /// Forgets `partition`'s waiting impressions and clock (it moved to another process).
  public mutating func removePartition(_ partition: Int32) {
    partitions[partition] = nil
    recountTotals()
  }

  /// Impressions waiting for a click, over all partitions.
  public var pendingCount: Int { totals.pending }

  /// The partition's watermark, or `nil` before its first event.
  public func watermark(partition: Int32) -> Int64? {
    guard let state = partitions[partition], state.maxEventTime != .min else { return nil }
    return state.watermark(configuration)
  }

  /// Takes one event from `partition` and appends every example it completes to `output`:
  /// the event's own (pre-labelled, clicked, or already expired) and those whose wait the
  /// advancing watermark has ended, in deadline order. An impression keeps `score` (what it
  /// was scored with on arrival) and its `keptFeatures` until it leaves with its label; a click
  /// ignores `score`.
  public mutating func process(
    _ event: Event, partition: Int32, score: ServingScore? = nil,
    into output: inout [LabelledExample]
  ) {
    let start = output.count
    var state = JoinerPartition()
    let slot = takePartition(partition, into: &state)
    totals.pending -= state.pending.count
    totals.held = totals.held - state.held
    switch event.kind {
    case .impression:
      handleImpression(
        event.keepingOnly(configuration.keptFeatures, sameAs: &keptNames), score: score,
        state: &state, output: &output)
    case .click: handleClick(event, state: &state, output: &output)
    }
    state.maxEventTime = max(state.maxEventTime, event.timeMilliseconds)
    let watermark = state.watermark(configuration)
    expire(before: watermark, state: &state, output: &output)
    for index in start..<output.count {
      output[index].emittedAtMilliseconds = watermark
      output[index].partition = partition
    }
    totals.pending += state.pending.count
    totals.held = totals.held + state.held
    putBack(&state, at: slot)
    updateGauges()
  }

  /// Swaps `partition`'s state (a new one when there is none) with `state`, an empty one, and
  /// returns where it was: one lookup, no copy of its tables, and no removal and reinsertion of
  /// the entry. `putBack(_:at:)` swaps them back; nothing may add or remove partitions between.
  mutating func takePartition(
    _ partition: Int32, into state: inout JoinerPartition
  ) -> Dictionary<Int32, JoinerPartition>.Index {
    if partitions.index(forKey: partition) == nil { partitions[partition] = JoinerPartition() }
    let slot = partitions.index(forKey: partition)!
    swap(&state, &partitions.values[slot])
    return slot
  }

  /// Puts back the state `takePartition(_:into:)` took from `slot`.
  mutating func putBack(
    _ state: inout JoinerPartition, at slot: Dictionary<Int32, JoinerPartition>.Index
  ) {
    swap(&state, &partitions.values[slot])
  }

  /// Ends the input: every waiting impression becomes a negative (in deadline order, emitted at
  /// its deadline or the watermark, whichever is later) and every early click an orphan. Used at
  /// the end of a replay.
  public mutating func flush(into output: inout [LabelledExample]) {
    for partition in partitions.keys.sorted() {
      var state = partitions[partition]!
      let start = output.count
      expire(before: .max, state: &state, output: &output)
      for index in start..<output.count { output[index].partition = partition }
      partitions[partition] = state
    }
    recountTotals()
  }

  private mutating func handleImpression(
    _ impression: Event, score: ServingScore?, state: inout JoinerPartition,
    output: inout [LabelledExample]
  ) {
    let id = impression.id
    let deadline = impression.timeMilliseconds.addingSaturated(configuration.waitMilliseconds)
    if state.pending[id] != nil || state.resolved[id] != nil {
      counts.duplicateImpressions += 1
      metrics?.duplicateImpressions.increment()
      return
    }
    let early = state.removeEarlyClick(id)
    if let label = impression.label {
      if early != nil { countDroppedClick(.duplicate) }
      emit(impression, label: label, outcome: .preLabelled, score: score, output: &output)
      resolve(id, wasClicked: true, deadline: deadline, in: &state)
      return
    }
    let clicked = early.map { $0.timeMilliseconds <= deadline } ?? false
    if early != nil && !clicked { countDroppedClick(.late) }
    let delay = early.map {
      max(0, $0.timeMilliseconds.addingSaturated(-impression.timeMilliseconds))
    }
    var waiting = PendingImpression(
      impression: impression, deadlineMilliseconds: deadline, sequence: 0, score: score)
    if configuration.isBiased {
      if clicked {
        // Its click came first: a positive within any window, trained now; its final label
        // waits for its deadline like every impression's.
        trainClick(of: waiting, delayMilliseconds: delay ?? 0, output: &output)
        waiting.impression.label = true
        waiting.clickDelayMilliseconds = delay ?? 0
        if deadline < state.watermark(configuration) {
          release(waiting, unclicked: .expired, output: &output)
          resolve(id, wasClicked: true, deadline: deadline, in: &state)
          return
        }
      } else if deadline < state.watermark(configuration) {
        // Its wait is over already: the label is final, and trains unweighted.
        emit(impression, label: false, outcome: .expired, score: score, output: &output)
        resolve(id, wasClicked: false, deadline: deadline, in: &state)
        return
      } else {
        let windowEnd = impression.timeMilliseconds.addingSaturated(
          configuration.observationWindowMilliseconds)
        if configuration.observationWindowMilliseconds == 0
          || windowEnd < state.watermark(configuration)
        {
          sendProvisional(&waiting, output: &output)
        } else {
          waiting.deadlineMilliseconds = windowEnd
        }
      }
    } else {
      // Leaves now: clicked (unless held for impression order), or already past its deadline.
      if (clicked && !configuration.releasesInImpressionOrder)
        || deadline < state.watermark(configuration)
      {
        emit(
          impression, label: clicked, outcome: clicked ? .clicked : .expired, score: score,
          clickDelayMilliseconds: clicked ? delay : nil, output: &output)
        resolve(id, wasClicked: clicked, deadline: deadline, in: &state)
        return
      }
      if clicked {
        waiting.impression.label = true
        waiting.clickDelayMilliseconds = delay
      }
    }
    guard waiting.heldBytes <= configuration.maxPendingBytes else {
      // It alone holds more than a partition's waiting impressions may: it never waits, and
      // pushes none of them out.
      let clicked = release(waiting, unclicked: .evicted, eviction: .bytes, output: &output)
      resolve(id, wasClicked: clicked, deadline: deadline, in: &state)
      return
    }
    state.addPending(consume waiting)
    while let eviction = boundExceeded(by: state), let oldest = state.popEarliestPending() {
      let clicked = release(oldest, unclicked: .evicted, eviction: eviction, output: &output)
      resolve(
        oldest.impression.id, wasClicked: clicked, deadline: finalDeadline(of: oldest),
        in: &state)
    }
  }

  /// The bound the waiting impressions of `state` exceed, if any.
  private func boundExceeded(by state: JoinerPartition) -> Eviction? {
    if state.pending.count > configuration.maxPending { return .count }
    if state.held.impressions > configuration.maxPendingBytes { return .bytes }
    return nil
  }

  /// The end of `waiting`'s wait for its click (`label.wait` after the impression): its
  /// `deadlineMilliseconds` too, except while an `.esDFM` impression is in its observation window.
  private func finalDeadline(of waiting: PendingImpression) -> Int64 {
    waiting.impression.timeMilliseconds.addingSaturated(configuration.waitMilliseconds)
  }

  /// Remembers that `id` was labelled, until one more wait and the out-of-orderness past its
  /// `deadline`, within the partition's bounds (`maxPending` ids, `maxPendingBytes` bytes).
  private func resolve(
    _ id: String, wasClicked: Bool, deadline: Int64, in state: inout JoinerPartition
  ) {
    state.resolve(
      id, wasClicked: wasClicked, forgetAt: remember(deadline), limit: configuration.maxPending,
      byteLimit: configuration.maxPendingBytes)
  }

  /// Sends `waiting` to training as a provisional negative (a delayed-feedback mode) and makes it
  /// wait for its click until its final deadline.
  private mutating func sendProvisional(
    _ waiting: inout PendingImpression, output: inout [LabelledExample]
  ) {
    emit(
      waiting.impression, label: false, outcome: .provisional, score: nil, use: .train,
      frozenRow: waiting.score?.frozenRow, output: &output)
    waiting.isProvisional = true
    waiting.deadlineMilliseconds = finalDeadline(of: waiting)
  }

  /// Trains on the click of `waiting` in a delayed-feedback mode: a positive training copy (a
  /// fake negative corrected when the impression already went to training as a negative). Its
  /// final label leaves later, at its deadline (`release`), so that the serving-time records of
  /// a partition leave in impression order whatever their label: clicks ahead of the non-clicks
  /// of the same moment would skew every window of labels the serving guard compares.
  private mutating func trainClick(
    of waiting: PendingImpression, delayMilliseconds: Int64, output: inout [LabelledExample]
  ) {
    if waiting.isProvisional {
      counts.fakeNegatives += 1
      metrics?.fakeNegatives.increment()
    }
    emit(
      waiting.impression, label: true, outcome: .clicked, score: nil, use: .train,
      clickDelayMilliseconds: delayMilliseconds, counted: false,
      frozenRow: waiting.score?.frozenRow, output: &output)
    output[output.count - 1].correctsProvisional = waiting.isProvisional
  }

  /// Emits a waiting impression whose wait ended (or that was pushed out) without a click in a
  /// delayed-feedback mode, or in `wait` mode: positive when its click came while it was held
  /// (`releasesInImpressionOrder` marks it with `label`, cleared here), else with `unclicked`
  /// (`evicted` by `eviction`). In a delayed-feedback mode an impression not yet sent to
  /// training goes as a provisional negative first. Returns whether it was clicked.
  @discardableResult
  private mutating func release(
    _ waiting: PendingImpression, unclicked: Outcome, eviction: Eviction? = nil,
    output: inout [LabelledExample]
  ) -> Bool {
    var impression = waiting.impression
    let clicked = impression.label == true
    impression.label = nil
    if configuration.isBiased && clicked {
      // Trained at its click; its final label now, in impression order.
      emit(
        consume impression, label: true, outcome: .clicked, score: waiting.score, use: .evaluate,
        clickDelayMilliseconds: waiting.clickDelayMilliseconds, output: &output)
    } else if configuration.isBiased {
      var waiting = waiting
      if !waiting.isProvisional { sendProvisional(&waiting, output: &output) }
      emit(
        consume impression, label: false, outcome: unclicked, score: waiting.score, use: .evaluate,
        output: &output)
    } else {
      emit(
        consume impression, label: clicked, outcome: clicked ? .clicked : unclicked,
        score: waiting.score,
        clickDelayMilliseconds: clicked ? waiting.clickDelayMilliseconds : nil,
        output: &output)
    }
    if !clicked, let eviction { metrics?.evictions[eviction]?.increment() }
    return clicked
  }

  private mutating func handleClick(
    _ click: Event, state: inout JoinerPartition, output: inout [LabelledExample]
  ) {
    let id = click.id
    // One lookup of the id: `index` stays valid until the impression is removed or added.
    if let index = state.pending.index(forKey: id) {
      let waiting = state.pending.values[index]
      guard click.timeMilliseconds <= finalDeadline(of: waiting) else {
        countDroppedClick(.late)
        return
      }
      let delay = max(
        0, click.timeMilliseconds.addingSaturated(-waiting.impression.timeMilliseconds))
      if configuration.isBiased {
        // Trained at once; held until its deadline for its final label. A second click is a
        // duplicate.
        guard waiting.impression.label == nil else {
          countDroppedClick(.duplicate)
          return
        }
        trainClick(of: waiting, delayMilliseconds: delay, output: &output)
        if waiting.deadlineMilliseconds == finalDeadline(of: waiting) {
          state.holdClick(at: index, delayMilliseconds: delay)
        } else {
          // Still in its observation window: it now waits for its final deadline instead.
          var held = state.removePending(at: index)
          held.impression.label = true
          held.clickDelayMilliseconds = delay
          held.deadlineMilliseconds = finalDeadline(of: held)
          state.addPending(held)
        }
        return
      }
      if configuration.releasesInImpressionOrder {
        // Held until its deadline like every impression; a second click is a duplicate.
        guard waiting.impression.label == nil else {
          countDroppedClick(.duplicate)
          return
        }
        state.holdClick(at: index, delayMilliseconds: delay)
        return
      }
      _ = state.removePending(at: index)
      emit(
        waiting.impression, label: true, outcome: .clicked, score: waiting.score,
        clickDelayMilliseconds: delay, output: &output)
      resolve(id, wasClicked: true, deadline: waiting.deadlineMilliseconds, in: &state)
    } else if let resolved = state.resolved[id] {
      countDroppedClick(resolved.wasClicked ? .duplicate : .late)
    } else if state.earlyClicks[id] != nil {
      countDroppedClick(.duplicate)
    } else if click.timeMilliseconds < state.watermark(configuration) {
      countDroppedClick(.late)
    } else {
      let early = EarlyClick(
        impressionID: id, timeMilliseconds: click.timeMilliseconds, sequence: 0)
      guard early.heldBytes <= configuration.maxPendingBytes else {
        countDroppedClick(.overflow)
        return
      }
      state.addEarlyClick(early)
      while !state.earlyClicks.isEmpty,
        state.earlyClicks.count > configuration.maxPending
          || state.held.earlyClicks > configuration.maxPendingBytes
      {
        state.popEarliestEarlyClick()
        countDroppedClick(.overflow)
      }
    }
  }

  /// Releases every impression whose deadline is before `watermark` (negative unless its click
  /// came while it was held), turns early clicks older than it into orphans, and forgets
  /// resolved ids it has passed.
  private mutating func expire(
    before watermark: Int64, state: inout JoinerPartition, output: inout [LabelledExample]
  ) {
    let current = state.watermark(configuration)
    while var waiting = state.popPending(dueBefore: watermark) {
      let start = output.count
      let due = waiting.deadlineMilliseconds
      if configuration.isBiased && !waiting.isProvisional && waiting.impression.label == nil {
        // The observation window ended without a click: a provisional negative, waiting on for
        // its click (popped again here if its wait is over too).
        sendProvisional(&waiting, output: &output)
        state.addPending(waiting)
      } else {
        let clicked = release(waiting, unclicked: .expired, output: &output)
        if watermark != .max {
          resolve(
            waiting.impression.id, wasClicked: clicked, deadline: finalDeadline(of: waiting),
            in: &state)
        }
      }
      if watermark == .max {
        for index in start..<output.count {
          output[index].emittedAtMilliseconds = max(current, due)
        }
      }
    }
    while state.popEarlyClick(dueBefore: watermark) { countDroppedClick(.orphan) }
    state.forgetResolved(before: watermark)
  }

  /// How long a labelled id is remembered: one more wait and the out-of-orderness past its
  /// deadline, so clicks that come late are told from clicks on unknown impressions.
  private func remember(_ deadline: Int64) -> Int64 {
    deadline.addingSaturated(configuration.waitMilliseconds)
      .addingSaturated(configuration.maxOutOfOrdernessMilliseconds)
  }

  /// Appends one labelled example; `counted` false leaves it out of the outcome counts (the
  /// positive training copy of a click, counted with its final label).
  private mutating func emit(
    _ impression: consuming Event, label: Bool, outcome: Outcome, score: ServingScore?,
    use: ExampleUse = .trainAndEvaluate, clickDelayMilliseconds: Int64? = nil,
    counted: Bool = true, frozenRow: FrozenRowTicket? = nil, output: inout [LabelledExample]
  ) {
    output.append(
      LabelledExample(
        impression: consume impression, label: label, outcome: outcome, emittedAtMilliseconds: 0,
        score: score, use: use, clickDelayMilliseconds: clickDelayMilliseconds,
        frozenRow: frozenRow))
    guard counted else { return }
    if let clickDelayMilliseconds {
      metrics?.clickDelay.observe(Double(clickDelayMilliseconds) / 1_000)
    }
    switch outcome {
    case .clicked: counts.clicked += 1
    case .expired: counts.expired += 1
    case .evicted: counts.evicted += 1
    case .preLabelled: counts.preLabelled += 1
    case .provisional: counts.provisional += 1
    }
    metrics?.examples[outcome]?.increment()
  }

  /// Sets the gauges of what waits (`iak_label_pending`, `iak_label_pending_bytes`).
  /// Counts `totals` from every partition again, then sets the gauges.
  private mutating func recountTotals() {
    totals = Totals()
    for state in partitions.values {
      totals.pending += state.pending.count
      totals.held = totals.held + state.held
      totals.checkpointCopy += state.writtenBytes
    }
    updateGauges()
  }

  private func updateGauges() {
    guard let metrics else { return }
    metrics.pending.set(Double(totals.pending))
    let held = totals.held
    metrics.heldBytes.impressions.set(Double(held.impressions))
    metrics.heldBytes.earlyClicks.set(Double(held.earlyClicks))
    metrics.heldBytes.resolvedIDs.set(Double(held.resolvedIDs))
    metrics.checkpointCopyBytes.set(Double(totals.checkpointCopy))
  }

  /// The bytes each partition keeps of the block the last checkpoint wrote, over all
  /// partitions (`iak_label_checkpoint_copy_bytes`).
  public var checkpointCopyBytes: Int { totals.checkpointCopy }

  private mutating func countDroppedClick(_ reason: JoinerMetrics.DroppedClick) {
    switch reason {
    case .duplicate: counts.duplicateClicks += 1
    case .late: counts.lateClicks += 1
    case .orphan: counts.orphanClicks += 1
    case .overflow: counts.overflowClicks += 1
    }
    metrics?.droppedClicks[reason]?.increment()
  }
}

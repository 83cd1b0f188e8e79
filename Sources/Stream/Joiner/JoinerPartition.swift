import Base

/// One partition's joiner memory, indexed for the hot path, with the bytes it holds kept exact
/// as entries come and go (every change to the entries goes through the methods here).
struct JoinerPartition: Sendable {
  /// A heap key: earliest time first, arrival order breaking ties.
  struct Key: Comparable, Sendable {
    var time: Int64
    var sequence: UInt64
    var id: String

    static func < (lhs: Key, rhs: Key) -> Bool {
      (lhs.time, lhs.sequence) < (rhs.time, rhs.sequence)
    }

    static func == (lhs: Key, rhs: Key) -> Bool {
      lhs.time == rhs.time && lhs.sequence == rhs.sequence
    }
  }

  var maxEventTime: Int64 = .min
  var nextSequence: UInt64 = 0
  private(set) var pending: [String: LabelJoiner.PendingImpression] = [:]
  /// Deadlines of `pending`; entries whose impression left `pending` are skipped lazily.
  private var deadlines = MinHeap<Key>()
  private(set) var earlyClicks: [String: LabelJoiner.EarlyClick] = [:]
  private var earlyClickTimes = MinHeap<Key>()
  private(set) var resolved: [String: LabelJoiner.ResolvedImpression] = [:]
  /// Resolved entries in the order they were made; stale ones are skipped.
  private var resolvedOrder: [LabelJoiner.ResolvedImpression] = []
  private var resolvedHead = 0
  /// The bytes `pending`, `earlyClicks` and `resolved` hold (the sums of their `heldBytes`).
  private(set) var held = LabelJoiner.HeldBytes()
  /// The times of the partition's newest events (at most `LabelJoiner.recentTimesKept`, oldest
  /// first), admitted or not: what tells a lone outlier from a clock that moved.
  var recentTimes: [Int64] = []
  /// Whether an event admitted after the one that set the clock bore it out.
  var isClockConfirmed = false
  /// The day (of the clock, since the epoch) `newDomains` counts for.
  var newDomainDay: Int64 = .min
  /// The domains the partition started in `newDomainDay`.
  var newDomains: Set<String> = []
  /// The waiting impressions' bytes as `serializedBlock(partition:)` wrote them last, which the
  /// next one copies rather than serializes again.
  private var written = WrittenPending()

  /// The block `serializedBlock(partition:)` wrote last, and where in it each waiting
  /// impression's bytes lie, by ascending sequence number. An impression changed in place since
  /// (`holdClick`) has its start set to -1: its bytes are stale.
  private struct WrittenPending {
    /// The table of feature names the block's impressions refer to.
    var names: [String] = []
    /// The whole block (kept until the next one: about the joiner's share of a snapshot).
    var block: [UInt8] = []
    /// The sequence numbers of the waiting impressions in it, ascending.
    var sequences: [UInt64] = []
    /// Where each impression's bytes start in `block` (-1: stale since).
    var starts: [Int] = []
    /// Where each impression's bytes end in `block`.
    var ends: [Int] = []

    /// The index of `sequence` in `sequences`, if it is there.
    func index(of sequence: UInt64) -> Int? {
      let index = sequences.firstIndex(notBelow: sequence)
      return index < sequences.count && sequences[index] == sequence ? index : nil
    }
  }

  init() {}

  /// The bytes of the block `serializedBlock(partition:)` wrote last, kept until the next.
  var writtenBytes: Int { written.block.count }

  /// The partition `state` describes; its waiting impressions keep only `keptFeatures`
  /// (`Event.keepingOnly(_:sameAs:)`: a state written before they were trimmed, or with other
  /// features kept, holds no more than one written now).
  init(restoring state: LabelJoiner.PartitionState, keepingFeatures keptFeatures: Set<String>?) {
    maxEventTime = state.maxEventTimeMilliseconds
    nextSequence = state.nextSequence
    // One list of names for the whole state: restored impressions are alike, and the quick
    // check then costs no allocation per impression.
    var keptNames: [String] = []
    for var waiting in state.pending {
      waiting.impression = waiting.impression.keepingOnly(keptFeatures, sameAs: &keptNames)
      // A well-formed state names each id once; a later entry replaces an earlier one.
      if let replaced = pending.updateValue(waiting, forKey: waiting.impression.id) {
        held.impressions -= replaced.heldBytes
      }
      held.impressions += waiting.heldBytes
      deadlines.insert(
        Key(
          time: waiting.deadlineMilliseconds, sequence: waiting.sequence, id: waiting.impression.id)
      )
    }
    for click in state.earlyClicks {
      if let replaced = earlyClicks.updateValue(click, forKey: click.impressionID) {
        held.earlyClicks -= replaced.heldBytes
      }
      held.earlyClicks += click.heldBytes
      earlyClickTimes.insert(
        Key(time: click.timeMilliseconds, sequence: click.sequence, id: click.impressionID))
    }
    for entry in state.resolved {
      if let replaced = resolved.updateValue(entry, forKey: entry.impressionID) {
        held.resolvedIDs -= replaced.heldBytes
      }
      held.resolvedIDs += entry.heldBytes
      resolvedOrder.append(entry)
    }
    recentTimes = state.recentEventTimesMilliseconds
    isClockConfirmed = state.isClockConfirmed
    newDomainDay = state.newDomainDay
    newDomains = Set(state.newDomains)
  }

  func exportState(partition: Int32) -> LabelJoiner.PartitionState {
    exportState(partition: partition, withPending: true)
  }

  /// `exportState(partition:)`, with no waiting impression unless `withPending`.
  private func exportState(partition: Int32, withPending: Bool) -> LabelJoiner.PartitionState {
    LabelJoiner.PartitionState(
      partition: partition, maxEventTimeMilliseconds: maxEventTime, nextSequence: nextSequence,
      pending: withPending ? Self.inSequenceOrder(pending, sequence: \.sequence) : [],
      earlyClicks: Self.inSequenceOrder(earlyClicks, sequence: \.sequence),
      resolved: resolvedOrder[resolvedHead...].filter { resolved[$0.impressionID] == $0 },
      recentEventTimesMilliseconds: recentTimes, isClockConfirmed: isClockConfirmed,
      newDomainDay: newDomainDay,
      newDomains: newDomains.sorted())
  }

  /// `exportState(partition:).serializedBlock()`, with the bytes of each waiting impression
  /// that was in the block this wrote last, unchanged since, copied from it: a checkpoint
  /// serializes only the impressions that arrived or changed since the one before. The block
  /// is kept (shared with the caller's copy) until the next one replaces it.
  mutating func serializedBlock(partition: Int32) -> [UInt8] {
    var order = pending.indices.map { (sequence: pending.values[$0].sequence, index: $0) }
    order.sort { $0.sequence < $1.sequence }
    let names = order.first.map { pending.values[$0.index].impression.featureNameTable } ?? []
    // Written bytes name features by their index in the table they were written with.
    if !names.elementsEqual(written.names, by: { $0.utf8.elementsEqual($1.utf8) }) {
      written = WrittenPending()
    }
    let indices = LabelJoiner.PartitionState.indices(of: names)
    let shell = exportState(partition: partition, withPending: false)
    var writer = ByteWriter(capacity: written.block.count + 4_096)
    shell.appendHead(to: &writer, names: names)
    writer.appendCount(order.count)
    var next = WrittenPending(names: names)
    next.sequences.reserveCapacity(order.count)
    next.starts.reserveCapacity(order.count)
    next.ends.reserveCapacity(order.count)
    var cursor = 0
    for (sequence, index) in order {
      // Both lists ascend: the written one is walked once.
      while cursor < written.sequences.count && written.sequences[cursor] < sequence {
        cursor += 1
      }
      let start = writer.count
      if cursor < written.sequences.count, written.sequences[cursor] == sequence,
        written.starts[cursor] >= 0
      {
        writer.append(contentsOf: written.block[written.starts[cursor]..<written.ends[cursor]])
      } else {
        writer.append(pending.values[index], names: indices)
      }
      next.sequences.append(sequence)
      next.starts.append(start)
      next.ends.append(writer.count)
    }
    shell.appendTail(to: &writer)
    next.block = writer.bytes
    written = next
    return next.block
  }

  /// The values of `table` by ascending `sequence` (unique). The sort moves (sequence, index)
  /// pairs, not the entries: sorting the waiting impressions themselves was most of the
  /// joiner's share of each checkpoint.
  private static func inSequenceOrder<Value>(
    _ table: [String: Value], sequence: (Value) -> UInt64
  ) -> [Value] {
    var order = table.indices.map { (sequence: sequence(table.values[$0]), index: $0) }
    order.sort { $0.sequence < $1.sequence }
    return order.map { table.values[$0.index] }
  }

  func watermark(_ configuration: LabelJoiner.Configuration) -> Int64 {
    maxEventTime == .min
      ? .min : maxEventTime.addingSaturated(-configuration.maxOutOfOrdernessMilliseconds)
  }

  /// Holds `waiting` (its id not pending yet) under the next sequence number. It is moved into
  /// the table, not copied (a copy of its event and the local's release were 1.1% of serve's
  /// training thread in a profile of 874f0c8).
  mutating func addPending(_ waiting: consuming LabelJoiner.PendingImpression) {
    waiting.sequence = takeSequence()
    let id = waiting.impression.id
    held.impressions += waiting.heldBytes
    let key = Key(time: waiting.deadlineMilliseconds, sequence: waiting.sequence, id: id)
    pending[id] = consume waiting
    deadlines.insert(key)
    if deadlines.count > 2 * pending.count + 1_024 { rebuildDeadlines() }
  }

  /// Removes and returns the waiting impression `id`, if there is one.
  mutating func removePending(_ id: String) -> LabelJoiner.PendingImpression? {
    guard let index = pending.index(forKey: id) else { return nil }
    return removePending(at: index)
  }

  /// Removes the waiting impression at `index` of `pending` (found by its id, with nothing
  /// added or removed since): no second lookup of the id.
  mutating func removePending(
    at index: Dictionary<String, LabelJoiner.PendingImpression>.Index
  ) -> LabelJoiner.PendingImpression {
    let waiting = pending.remove(at: index).value
    held.impressions -= waiting.heldBytes
    return waiting
  }

  /// Marks the waiting impression at `index` of `pending` as clicked (its `label` true)
  /// `delayMilliseconds` after it was shown, held until its deadline.
  mutating func holdClick(
    at index: Dictionary<String, LabelJoiner.PendingImpression>.Index, delayMilliseconds: Int64
  ) {
    if let written = written.index(of: pending.values[index].sequence) {
      self.written.starts[written] = -1
    }
    pending.values[index].impression.label = true
    pending.values[index].clickDelayMilliseconds = delayMilliseconds
  }

  mutating func popEarliestPending() -> LabelJoiner.PendingImpression? {
    dropStaleDeadlines()
    guard let key = deadlines.removeMinimum() else { return nil }
    return removePending(key.id)
  }

  /// Removes and returns the waiting impression with the earliest deadline (arrival order
  /// breaking ties) if that deadline is before `watermark`, with one lookup of its id.
  mutating func popPending(dueBefore watermark: Int64) -> LabelJoiner.PendingImpression? {
    // Every entry, current or stale, is at or after the heap's minimum: a minimum at or past the
    // watermark means nothing is due, with no lookup.
    while let key = deadlines.minimum, key.time < watermark {
      deadlines.removeMinimum()
      if let index = pending.index(forKey: key.id), pending.values[index].sequence == key.sequence {
        return removePending(at: index)
      }
    }
    return nil
  }

  /// Holds `click` (no early click for its id yet) under the next sequence number.
  mutating func addEarlyClick(_ click: LabelJoiner.EarlyClick) {
    var click = click
    click.sequence = takeSequence()
    earlyClicks[click.impressionID] = click
    held.earlyClicks += click.heldBytes
    earlyClickTimes.insert(
      Key(time: click.timeMilliseconds, sequence: click.sequence, id: click.impressionID))
  }

  mutating func removeEarlyClick(_ id: String) -> LabelJoiner.EarlyClick? {
    guard !earlyClicks.isEmpty, let click = earlyClicks.removeValue(forKey: id) else {
      return nil
    }
    held.earlyClicks -= click.heldBytes
    return click
  }

  mutating func popEarliestEarlyClick() {
    dropStaleEarlyClicks()
    if let key = earlyClickTimes.removeMinimum() { _ = removeEarlyClick(key.id) }
  }

  /// Removes the early click with the earliest time (arrival order breaking ties) if that time is
  /// before `watermark`, with one lookup of its id; returns whether there was one.
  mutating func popEarlyClick(dueBefore watermark: Int64) -> Bool {
    while let key = earlyClickTimes.minimum, key.time < watermark {
      earlyClickTimes.removeMinimum()
      if let index = earlyClicks.index(forKey: key.id),
        earlyClicks.values[index].sequence == key.sequence
      {
        held.earlyClicks -= earlyClicks.remove(at: index).value.heldBytes
        return true
      }
    }
    return false
  }

  /// Remembers that `id` was labelled until the watermark passes `forgetAt`, then forgets the
  /// oldest ids while more than `limit` of them, or more than `byteLimit` bytes, are remembered.
  mutating func resolve(
    _ id: String, wasClicked: Bool, forgetAt: Int64, limit: Int, byteLimit: Int
  ) {
    let entry = LabelJoiner.ResolvedImpression(
      impressionID: id, wasClicked: wasClicked, forgetAtMilliseconds: forgetAt)
    if let replaced = resolved.updateValue(entry, forKey: id) {
      held.resolvedIDs -= replaced.heldBytes
    }
    held.resolvedIDs += entry.heldBytes
    resolvedOrder.append(entry)
    while resolved.count > limit || held.resolvedIDs > byteLimit,
      resolvedHead < resolvedOrder.count
    {
      forgetOldestResolved()
    }
  }

  /// Forgets resolved ids whose time the watermark has passed (oldest first, in resolution order).
  mutating func forgetResolved(before watermark: Int64) {
    // An id is resolved again only after it was forgotten, so the entries from the head on are
    // the current ones (`forgetOldestResolved` checks anyway): no lookup until one is due.
    while resolvedHead < resolvedOrder.count,
      resolvedOrder[resolvedHead].forgetAtMilliseconds < watermark
    {
      forgetOldestResolved()
    }
    if resolvedHead > 1_024 && resolvedHead * 2 > resolvedOrder.count {
      resolvedOrder.removeFirst(resolvedHead)
      resolvedHead = 0
    }
  }

  private mutating func forgetOldestResolved() {
    let entry = resolvedOrder[resolvedHead]
    if let index = resolved.index(forKey: entry.impressionID), resolved.values[index] == entry {
      resolved.remove(at: index)
      held.resolvedIDs -= entry.heldBytes
    }
    resolvedHead += 1
  }

  private mutating func takeSequence() -> UInt64 {
    defer { nextSequence &+= 1 }
    return nextSequence
  }

  private mutating func dropStaleDeadlines() {
    while let key = deadlines.minimum, pending[key.id]?.sequence != key.sequence {
      deadlines.removeMinimum()
    }
  }

  private mutating func dropStaleEarlyClicks() {
    while let key = earlyClickTimes.minimum, earlyClicks[key.id]?.sequence != key.sequence {
      earlyClickTimes.removeMinimum()
    }
  }

  private mutating func rebuildDeadlines() {
    deadlines.removeAll()
    for waiting in pending.values.sorted(by: { $0.sequence < $1.sequence }) {
      deadlines.insert(
        Key(
          time: waiting.deadlineMilliseconds, sequence: waiting.sequence, id: waiting.impression.id)
      )
    }
  }
}

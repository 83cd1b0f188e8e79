/// One partition's joiner memory, indexed for the hot path.
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
  var pending: [String: LabelJoiner.PendingImpression] = [:]
  /// Deadlines of `pending`; entries whose impression left `pending` are skipped lazily.
  var deadlines = JoinerHeap<Key>()
  var earlyClicks: [String: LabelJoiner.EarlyClick] = [:]
  var earlyClickTimes = JoinerHeap<Key>()
  var resolved: [String: LabelJoiner.ResolvedImpression] = [:]
  /// Resolved entries in the order they were made; stale ones are skipped.
  var resolvedOrder: [LabelJoiner.ResolvedImpression] = []
  var resolvedHead = 0
  /// The times of the partition's newest events (at most `LabelJoiner.recentTimesKept`, oldest
  /// first), admitted or not: what tells a lone outlier from a clock that moved.
  var recentTimes: [Int64] = []
  /// Whether an event admitted after the one that set the clock bore it out.
  var isClockConfirmed = false
  /// The day (of the clock, since the epoch) `newDomains` counts for.
  var newDomainDay: Int64 = .min
  /// The domains the partition started in `newDomainDay`.
  var newDomains: Set<String> = []

  init() {}

  init(restoring state: LabelJoiner.PartitionState) {
    maxEventTime = state.maxEventTimeMilliseconds
    nextSequence = state.nextSequence
    for waiting in state.pending {
      pending[waiting.impression.id] = waiting
      deadlines.insert(
        Key(
          time: waiting.deadlineMilliseconds, sequence: waiting.sequence, id: waiting.impression.id)
      )
    }
    for click in state.earlyClicks {
      earlyClicks[click.impressionID] = click
      earlyClickTimes.insert(
        Key(time: click.timeMilliseconds, sequence: click.sequence, id: click.impressionID))
    }
    for entry in state.resolved {
      resolved[entry.impressionID] = entry
      resolvedOrder.append(entry)
    }
    recentTimes = state.recentEventTimesMilliseconds
    isClockConfirmed = state.isClockConfirmed
    newDomainDay = state.newDomainDay
    newDomains = Set(state.newDomains)
  }

  func exportState(partition: Int32) -> LabelJoiner.PartitionState {
    LabelJoiner.PartitionState(
      partition: partition, maxEventTimeMilliseconds: maxEventTime, nextSequence: nextSequence,
      pending: pending.values.sorted { $0.sequence < $1.sequence },
      earlyClicks: earlyClicks.values.sorted { $0.sequence < $1.sequence },
      resolved: resolvedOrder[resolvedHead...].filter { resolved[$0.impressionID] == $0 },
      recentEventTimesMilliseconds: recentTimes, isClockConfirmed: isClockConfirmed,
      newDomainDay: newDomainDay,
      newDomains: newDomains.sorted())
  }

  func watermark(_ configuration: LabelJoiner.Configuration) -> Int64 {
    maxEventTime == .min
      ? .min : maxEventTime.addingSaturated(-configuration.maxOutOfOrdernessMilliseconds)
  }

  mutating func addPending(_ impression: Event, deadline: Int64, score: ImpressionScore?) {
    let sequence = takeSequence()
    pending[impression.id] = LabelJoiner.PendingImpression(
      impression: impression, deadlineMilliseconds: deadline, sequence: sequence, score: score)
    deadlines.insert(Key(time: deadline, sequence: sequence, id: impression.id))
    if deadlines.count > 2 * pending.count + 1_024 { rebuildDeadlines() }
  }

  mutating func popEarliestPending() -> LabelJoiner.PendingImpression? {
    dropStaleDeadlines()
    guard let key = deadlines.removeMinimum() else { return nil }
    return pending.removeValue(forKey: key.id)
  }

  /// Removes and returns the waiting impression with the earliest deadline (arrival order
  /// breaking ties) if that deadline is before `watermark`, with one lookup of its id.
  mutating func popPending(dueBefore watermark: Int64) -> LabelJoiner.PendingImpression? {
    // Every entry, current or stale, is at or after the heap's minimum: a minimum at or past the
    // watermark means nothing is due, with no lookup.
    while let key = deadlines.minimum, key.time < watermark {
      deadlines.removeMinimum()
      if let index = pending.index(forKey: key.id), pending.values[index].sequence == key.sequence {
        return pending.remove(at: index).value
      }
    }
    return nil
  }

  mutating func addEarlyClick(_ id: String, time: Int64) {
    let sequence = takeSequence()
    earlyClicks[id] = LabelJoiner.EarlyClick(
      impressionID: id, timeMilliseconds: time, sequence: sequence)
    earlyClickTimes.insert(Key(time: time, sequence: sequence, id: id))
  }

  mutating func removeEarlyClick(_ id: String) -> LabelJoiner.EarlyClick? {
    earlyClicks.isEmpty ? nil : earlyClicks.removeValue(forKey: id)
  }

  mutating func popEarliestEarlyClick() {
    dropStaleEarlyClicks()
    if let key = earlyClickTimes.removeMinimum() { earlyClicks[key.id] = nil }
  }

  /// Removes the early click with the earliest time (arrival order breaking ties) if that time is
  /// before `watermark`, with one lookup of its id; returns whether there was one.
  mutating func popEarlyClick(dueBefore watermark: Int64) -> Bool {
    while let key = earlyClickTimes.minimum, key.time < watermark {
      earlyClickTimes.removeMinimum()
      if let index = earlyClicks.index(forKey: key.id),
        earlyClicks.values[index].sequence == key.sequence
      {
        earlyClicks.remove(at: index)
        return true
      }
    }
    return false
  }

  mutating func resolve(_ id: String, wasClicked: Bool, forgetAt: Int64, limit: Int) {
    let entry = LabelJoiner.ResolvedImpression(
      impressionID: id, wasClicked: wasClicked, forgetAtMilliseconds: forgetAt)
    resolved[id] = entry
    resolvedOrder.append(entry)
    while resolved.count > limit, resolvedHead < resolvedOrder.count {
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
    if resolved[entry.impressionID] == entry { resolved[entry.impressionID] = nil }
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

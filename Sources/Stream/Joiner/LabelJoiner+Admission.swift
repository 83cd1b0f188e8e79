extension LabelJoiner {
  /// Events of a partition remembered to tell a lone outlier from a clock that really moved.
  public static let recentTimesKept = 16
  /// Consecutive events of a partition beyond the same bound, within `maxFutureMilliseconds` of
  /// each other, that show its clock really moved (data after a silence, or a first event that
  /// was itself an outlier): the one that makes this many is admitted and the clock follows.
  public static let eventsThatMoveTheClock = 3

  /// Decides whether `event` of `partition` may reach `process`: nil when its time is within
  /// `maxFutureMilliseconds` ahead of and `maxPastMilliseconds` behind the partition's clock
  /// (its largest admitted event time) and, when `wallClockMilliseconds` is given (live input),
  /// not more than `maxFutureMilliseconds` ahead of the wall clock; else why not.
  ///
  /// A lone outlier cannot move the clock: it is refused and only remembered. When the
  /// partition's last `eventsThatMoveTheClock` events all lie beyond the same bound, within
  /// `maxFutureMilliseconds` of each other, the data itself has moved (a partition silent longer
  /// than `maxFutureMilliseconds`): the last one is admitted and the clock follows it. It
  /// follows backwards only while no admitted event has borne the clock out (the partition's
  /// first event was an outlier; waiting impressions keep their deadlines), so old events,
  /// even a burst of them, never drag a running stream back. The memory is part
  /// of the partition's state, so the same events give the same verdicts after a restore.
  public mutating func admitTime(
    of event: Event, partition: Int32, wallClockMilliseconds: Int64? = nil
  ) -> EventRejection.Reason? {
    let time = event.timeMilliseconds
    let future = configuration.maxFutureMilliseconds
    if let wall = wallClockMilliseconds, time > wall.addingSaturated(future) {
      return .tooFarFuture
    }
    guard future < .max || configuration.maxPastMilliseconds < .max else { return nil }
    // Taken out and put back, not copied: a copy would share, then duplicate, its tables.
    var state = JoinerPartition()
    let slot = takePartition(partition, into: &state)
    state.recentTimes.append(time)
    if state.recentTimes.count > Self.recentTimesKept { state.recentTimes.removeFirst() }
    let verdict = timeVerdict(time, state: &state)
    // The clock is borne out once an event after the one that set it is admitted.
    if verdict == nil && state.maxEventTime != .min { state.isClockConfirmed = true }
    putBack(&state, at: slot)
    return verdict
  }

  private func timeVerdict(_ time: Int64, state: inout JoinerPartition) -> EventRejection.Reason? {
    let future = configuration.maxFutureMilliseconds
    let past = configuration.maxPastMilliseconds
    let clock = state.maxEventTime
    guard clock != .min else { return nil }
    let reason: EventRejection.Reason
    let isBeyond: (Int64) -> Bool
    if time > clock.addingSaturated(future) {
      reason = .tooFarFuture
      isBeyond = { $0 > clock.addingSaturated(future) }
    } else if time < clock.addingSaturated(-past) {
      reason = .tooFarPast
      isBeyond = { $0 < clock.addingSaturated(-past) }
    } else {
      return nil
    }
    // The data moved when the partition's newest events, this one included, all lie beyond
    // the bound, close to each other (within `maxFutureMilliseconds`).
    let newest = state.recentTimes.suffix(Self.eventsThatMoveTheClock)
    guard newest.count == Self.eventsThatMoveTheClock,
      newest.allSatisfy({ isBeyond($0) && ($0 > time ? $0 - time : time - $0) <= future })
    else { return reason }
    if reason == .tooFarPast {
      // Back only to correct a clock no admitted event ever bore out (a first event that was
      // an outlier): a running stream cannot be dragged back by a burst of old events.
      guard !state.isClockConfirmed else { return reason }
      state.maxEventTime = time
    }
    return nil
  }

  /// Whether `partition` may start the domain named `key` (a domain not known yet) with an
  /// event at `timeMilliseconds`: true when it already started it in the day its clock is in
  /// with that event, or started fewer than `maxNewDomainsPerDay` domains in it, and then counts
  /// it; false when the day's budget is spent.
  public mutating func admitNewDomain(
    _ key: String, partition: Int32, timeMilliseconds: Int64
  ) -> Bool {
    // Taken out and put back, not copied: a copy would share, then duplicate, its tables.
    var state = JoinerPartition()
    let slot = takePartition(partition, into: &state)
    defer { putBack(&state, at: slot) }
    // The day the clock is in once this event is processed.
    let day = EventTime.floorDivide(max(state.maxEventTime, timeMilliseconds), 86_400_000)
    if day != state.newDomainDay {
      state.newDomainDay = day
      state.newDomains.removeAll()
    }
    if state.newDomains.contains(key) { return true }
    guard state.newDomains.count < configuration.maxNewDomainsPerDay else { return false }
    state.newDomains.insert(key)
    return true
  }
}

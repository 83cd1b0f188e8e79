import Checkpoint

extension Trainer {
  /// The lane (input partition) that owns `domain`: the lane of its first example; nil for an
  /// unknown domain or one restored from a snapshot that did not record it.
  public func lane(of domain: String) -> Int32? { withState(domain) { $0.lane } ?? nil }

  /// The domains owned by `lane`, sorted.
  public func domains(ofLane lane: Int32) -> [String] {
    states.filter { $0.value.lane == lane }.keys.sorted()
  }

  /// The state of one lane, in the layout of `stateTensors()`: the domains it owns and its
  /// clock. Another trainer takes it over with `adoptLane(stateTensors:)`.
  public func stateTensors(ofLane lane: Int32) -> [String: Tensor] {
    exportTensors(
      of: states.filter { $0.value.lane == lane },
      laneTimes: laneTimeMs.filter { $0.key == lane })
  }

  /// The tensors of `stateTensors(ofLane:)` that are not one domain's (named `"<domain>/..."`):
  /// the trainer's clock and mode, the lane's clock and its domains' names. With the domains'
  /// tensors taken from `stateTensors()`, they make `stateTensors(ofLane:)` without building
  /// those again.
  public func wideTensors(ofLane lane: Int32) -> [String: Tensor] {
    wideTensors(domains: domains(ofLane: lane), laneTimes: laneTimeMs.filter { $0.key == lane })
  }

  /// Forgets the domains owned by `lane` and its clock (the lane moved to another process);
  /// returns the domains forgotten, sorted.
  @discardableResult
  public func removeLane(_ lane: Int32) -> [String] {
    let owned = domains(ofLane: lane)
    for domain in owned { states[domain] = nil }
    laneTimeMs[lane] = nil
    recomputeOpenBatches()
    return owned
  }

  /// Adds the domains and lane clocks of `tensors` (from `stateTensors(ofLane:)` of a trainer
  /// with the same backbone and settings) next to the domains already here, which are kept.
  /// A domain present on both sides is replaced by the adopted one: its examples came from two
  /// partitions, which only happens when the input is not keyed by region. Returns the domains
  /// so replaced. Nothing changes when it throws.
  ///
  /// - Throws: `LearnerError.invalidModel` naming what is missing or malformed.
  @discardableResult
  public func adoptLane(stateTensors tensors: [String: Tensor]) throws(LearnerError) -> [String] {
    let parsed = try parsedState(tensors)
    let replaced = parsed.states.keys.filter { states[$0] != nil }.sorted()
    for (domain, state) in parsed.states { states[domain] = state }
    for (lane, time) in parsed.laneTimes { laneTimeMs[lane] = max(laneTimeMs[lane] ?? .min, time) }
    eventTimeMs = max(eventTimeMs, parsed.eventTimeMs)
    recomputeOpenBatches()
    return replaced
  }
}

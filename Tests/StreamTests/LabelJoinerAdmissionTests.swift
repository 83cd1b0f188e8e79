import Testing

@testable import Stream

/// `LabelJoiner.admitTime` and `admitNewDomain` (issue 14, item 2): events too far from their
/// partition's clock are refused, a lone outlier never moves the clock, data that really moved
/// does after three agreeing events, and a partition starts a bounded number of domains a day.
@Suite struct LabelJoinerAdmissionTests {
  static let day: Int64 = 86_400_000
  static let start: Int64 = 883_612_800_000

  static func joiner() -> LabelJoiner {
    LabelJoiner(
      configuration: .init(
        waitMilliseconds: 60_000, maxOutOfOrdernessMilliseconds: 0,
        maxFutureMilliseconds: 7 * day, maxPastMilliseconds: 30 * day, maxNewDomainsPerDay: 3))
  }

  static func impression(_ id: String, _ time: Int64, region: String = "east") -> Event {
    Event(kind: .impression, id: id, timeMilliseconds: time, region: region)
  }

  /// Admits and processes `event` as `EventIngest` does; returns the refusal, if any.
  static func offer(
    _ event: Event, to joiner: inout LabelJoiner, wallClock: Int64? = nil,
    output: inout [LabelJoiner.LabelledExample]
  ) -> EventRejection.Reason? {
    if let reason = joiner.admitTime(of: event, partition: 0, wallClockMilliseconds: wallClock) {
      return reason
    }
    joiner.process(event, partition: 0, into: &output)
    return nil
  }

  @Test func aLoneOutlierIsRefusedAndTheClockStaysWhereTheDataIs() {
    var joiner = Self.joiner()
    var output: [LabelJoiner.LabelledExample] = []
    #expect(Self.offer(Self.impression("a", Self.start), to: &joiner, output: &output) == nil)
    let outlier = Event(kind: .click, id: "a", timeMilliseconds: EventTime.latestMilliseconds)
    #expect(Self.offer(outlier, to: &joiner, output: &output) == .tooFarFuture)
    #expect(joiner.watermark(partition: 0) == Self.start)
    let old = Self.impression("old", Self.start - 31 * Self.day)
    #expect(Self.offer(old, to: &joiner, output: &output) == .tooFarPast)
    // Its click, on time, still labels the impression; nothing expired early.
    let click = Event(kind: .click, id: "a", timeMilliseconds: Self.start + 5_000)
    #expect(Self.offer(click, to: &joiner, output: &output) == nil)
    #expect(output.map(\.impression.id) == ["a"])
    #expect(output.map(\.label) == [true])
    #expect(
      Self.offer(Self.impression("b", Self.start + 70_000), to: &joiner, output: &output) == nil)
    // A second outlier far from the first one does not agree with it.
    let other = Event(kind: .click, id: "z", timeMilliseconds: Self.start + 400 * Self.day)
    #expect(Self.offer(other, to: &joiner, output: &output) == .tooFarFuture)
    #expect(joiner.watermark(partition: 0) == Self.start + 70_000)
  }

  @Test func dataAfterALongSilenceMovesTheClockOnItsThirdEvent() {
    var joiner = Self.joiner()
    var output: [LabelJoiner.LabelledExample] = []
    _ = Self.offer(Self.impression("a", Self.start), to: &joiner, output: &output)
    let later = Self.start + 10 * Self.day
    let verdicts = (0..<4).map {
      Self.offer(Self.impression("l\($0)", later + Int64($0) * 1_000), to: &joiner, output: &output)
    }
    #expect(verdicts == [.tooFarFuture, .tooFarFuture, nil, nil])
    #expect(joiner.watermark(partition: 0) == later + 3_000)
    // The impression before the silence expired as the clock moved past its wait.
    #expect(output.map(\.impression.id) == ["a"])
  }

  @Test func aPartitionWhoseFirstEventWasAnOutlierComesBackToItsData() {
    var joiner = Self.joiner()
    var output: [LabelJoiner.LabelledExample] = []
    let first = Self.impression("far", EventTime.latestMilliseconds)
    #expect(Self.offer(first, to: &joiner, output: &output) == nil)
    let verdicts = (0..<4).map {
      Self.offer(
        Self.impression("r\($0)", Self.start + Int64($0) * 1_000), to: &joiner, output: &output)
    }
    #expect(verdicts == [.tooFarPast, .tooFarPast, nil, nil])
    #expect(joiner.watermark(partition: 0) == Self.start + 3_000)
    // The data's own impressions wait for their clicks again.
    let click = Event(kind: .click, id: "r2", timeMilliseconds: Self.start + 4_000)
    #expect(Self.offer(click, to: &joiner, output: &output) == nil)
    #expect(output.map(\.impression.id) == ["r2"])
  }

  @Test func aBurstOfOldEventsNeverDragsARunningClockBack() {
    var joiner = Self.joiner()
    var output: [LabelJoiner.LabelledExample] = []
    _ = Self.offer(Self.impression("a", Self.start), to: &joiner, output: &output)
    _ = Self.offer(Self.impression("b", Self.start + 1_000), to: &joiner, output: &output)
    let verdicts = (0..<20).map {
      Self.offer(
        Self.impression("old\($0)", Self.start - 40 * Self.day + Int64($0)), to: &joiner,
        output: &output)
    }
    #expect(verdicts == Array(repeating: .tooFarPast, count: 20))
    #expect(joiner.watermark(partition: 0) == Self.start + 1_000)
  }

  @Test func theWallClockBoundsLiveInputAndOutliersBeyondItNeverMoveTheClock() {
    var joiner = Self.joiner()
    var output: [LabelJoiner.LabelledExample] = []
    let now = Self.start + 100 * Self.day
    // Even as a partition's first events, and however many.
    for index in 0..<5 {
      let far = Self.impression("f\(index)", EventTime.latestMilliseconds - Int64(index))
      #expect(Self.offer(far, to: &joiner, wallClock: now, output: &output) == .tooFarFuture)
    }
    #expect(joiner.watermark(partition: 0) == nil)
    #expect(
      Self.offer(Self.impression("a", now), to: &joiner, wallClock: now, output: &output) == nil)
    // Without a wall clock (a replay) the same history is admitted whenever it runs.
    var replay = Self.joiner()
    #expect(Self.offer(Self.impression("a", now), to: &replay, output: &output) == nil)
  }

  @Test func theClockMemoryTravelsWithThePartitionState() throws {
    var joiner = Self.joiner()
    var output: [LabelJoiner.LabelledExample] = []
    _ = Self.offer(Self.impression("a", Self.start), to: &joiner, output: &output)
    let later = Self.start + 10 * Self.day
    #expect(Self.offer(Self.impression("l0", later), to: &joiner, output: &output) == .tooFarFuture)
    #expect(
      Self.offer(Self.impression("l1", later + 1), to: &joiner, output: &output) == .tooFarFuture)
    // Restored between the second and third agreeing events, it decides as if never stopped.
    var restored = LabelJoiner(
      configuration: joiner.configuration,
      restoring: try LabelJoiner.State(bytes: joiner.exportState().serialized()))
    #expect(Self.offer(Self.impression("l2", later + 2), to: &restored, output: &output) == nil)
    #expect(Self.offer(Self.impression("l2", later + 2), to: &joiner, output: &output) == nil)
    #expect(restored.exportState() == joiner.exportState())
  }

  @Test func aPartitionStartsAtMostItsBudgetOfNewDomainsADay() {
    var joiner = Self.joiner()
    var output: [LabelJoiner.LabelledExample] = []
    _ = Self.offer(Self.impression("a", Self.start), to: &joiner, output: &output)
    let admitted = ["w/a", "w/b", "w/a", "w/c", "w/d", "w/b"].map {
      joiner.admitNewDomain($0, partition: 0, timeMilliseconds: Self.start)
    }
    #expect(admitted == [true, true, true, true, false, true])
    // Another partition has its own budget; the next day of the clock starts a new one.
    let otherPartition = joiner.admitNewDomain("w/d", partition: 1, timeMilliseconds: Self.start)
    #expect(otherPartition)
    _ = Self.offer(Self.impression("b", Self.start + Self.day), to: &joiner, output: &output)
    let nextDay = joiner.admitNewDomain("w/d", partition: 0, timeMilliseconds: Self.start)
    #expect(nextDay)
  }

  @Test func ingestRefusesImpressionsStartingDomainsBeyondTheBudgetOnly() throws {
    var ingest = try EventIngest(
      schema: EventSchema(), joiner: Self.joiner().configuration,
      router: .init(window: try DomainWindow(parsing: "every 1d")), metrics: nil)
    var output: [EventIngest.Routed] = []
    var verdicts: [EventRejection.Reason?] = []
    for (index, region) in ["a", "b", "c", "d", "a", "d", "c"].enumerated() {
      let event = Self.impression("i\(index)", Self.start + Int64(index), region: region)
      let verdict = ingest.admit(event, partition: 0)
      if verdict == nil { ingest.ingest(event, partition: 0, into: &output) }
      verdicts.append(verdict)
    }
    #expect(verdicts == [nil, nil, nil, .newDomainBudget, nil, .newDomainBudget, nil])
    // Clicks start no domain.
    let click = Event(kind: .click, id: "x", timeMilliseconds: Self.start, region: "e")
    #expect(ingest.admit(click, partition: 0) == nil)
  }
}

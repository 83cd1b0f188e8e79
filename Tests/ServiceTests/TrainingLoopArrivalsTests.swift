import Testing

@testable import Service

/// The chunks a training loop keeps for `iak_freshness_seconds` while no checkpoint publishes.
@Suite struct TrainingLoopArrivalsTests {
  @Test func halvingKeepsEveryRecordAtTheEarlierInstantOfEachPair() {
    let start = ContinuousClock.now
    let arrivals = (0..<5).map { (instant: start + .seconds($0), records: $0 + 1) }
    let halved = TrainingLoop.halved(arrivals)
    #expect(halved.map(\.instant) == [start, start + .seconds(2), start + .seconds(4)])
    #expect(halved.map(\.records) == [3, 7, 5])
    // However long checkpoints fail, what is kept stays within twice the bound, every record
    // counted.
    var kept: [(instant: ContinuousClock.Instant, records: Int)] = []
    for index in 0..<20_000 {
      kept.append((start + .milliseconds(index), 2))
      if kept.count > TrainingLoop.arrivalsKept { kept = TrainingLoop.halved(kept) }
    }
    #expect(kept.count <= TrainingLoop.arrivalsKept)
    #expect(kept.reduce(0) { $0 + $1.records } == 40_000)
    #expect(kept.first?.instant == start)
  }
}

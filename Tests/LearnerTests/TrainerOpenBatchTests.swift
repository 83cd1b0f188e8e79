import Testing

@testable import Learner

/// The trainer finds the batches an event closes by waiting from an index of open batches by
/// opening time, not by looking at every domain. These tests hold it to what a look at every
/// domain decides.
@Suite struct TrainerOpenBatchTests {
  /// What a look at every domain decides: each open batch by its domain, with its lane (its
  /// first example's), its opening time (its lane's clock when it opened) and its rows.
  private struct Model {
    /// The open batches by domain.
    var batches: [String: (lane: Int32, openedMs: Int64, rows: Int)] = [:]
    /// Each lane's clock.
    var laneTimes: [Int32: Int64] = [:]
    /// `train.batch_max`.
    let batchMax: Int
    /// `train.batch_max_wait`, in milliseconds.
    let waitMs: Int64

    /// The batches `example` closes: by waiting (in domain order), then its own when full.
    mutating func process(_ example: Example) -> [(String, BatchClosing)] {
      let now = max(laneTimes[example.lane] ?? .min, example.eventTimeMs)
      laneTimes[example.lane] = now
      var closed: [(String, BatchClosing)] = []
      for domain in batches.keys.sorted() {
        let batch = batches[domain]!
        if batch.lane == example.lane && now - batch.openedMs >= waitMs {
          closed.append((domain, .waited))
          batches[domain] = nil
        }
      }
      var batch = batches[example.domain] ?? (example.lane, now, 0)
      batch.rows += 1
      if batch.rows >= batchMax {
        closed.append((example.domain, .full))
        batches[example.domain] = nil
      } else {
        batches[example.domain] = batch
      }
      return closed
    }
  }

  /// A small trainer closing batches at `batchMax` rows or after `waitMs` of event time.
  private static func trainer(batchMax: Int, waitMs: Int64) throws -> Trainer {
    try Trainer(
      backbone: try Backbone(config: TrainerTests.backboneConfig, seed: 4),
      kernelConfig: KernelConfig(insertAt: .hidden(1), bottleneck: 3, encoderHidden: 5),
      config: TrainConfig(
        batchMax: batchMax, batchMaxWaitMs: waitMs, learningRate: 3e-3, stepsPerBatch: 1,
        activationMinExamples: 16))
  }

  @Test func batchesCloseAsALookAtEveryDomainDecides() throws {
    let trainer = try Self.trainer(batchMax: 4, waitMs: 3_000)
    var model = Model(batchMax: 4, waitMs: 3_000)
    var random = NoiseGenerator(state: 11)
    var clock: Int64 = 0
    var closedByWaiting = 0
    for index in 0..<4_000 {
      // Three lanes, 60 domains; the clock often stands still (batches that close full and
      // open again at the same time) and some examples are late (behind their lane's clock).
      clock += Int64(random.nextInt(below: 3)) * 250
      let late = random.nextInt(below: 5) == 0 ? Int64(random.nextInt(below: 8)) * 1_000 : 0
      let lane = Int32(random.nextInt(below: 3))
      // Most domains keep to one lane; three take examples from every lane, so that a batch
      // closed on one lane opens again on another, at the same time or later.
      let domain =
        random.nextInt(below: 8) == 0
        ? "s\(random.nextInt(below: 3))" : "d\(lane)-\(random.nextInt(below: 20))"
      var example = Example(
        domain: domain, categorical: ["u", "i"],
        label: Float(index % 2), eventTimeMs: clock - late)
      example.lane = lane
      let expected = model.process(example)
      let reports = trainer.process(example)
      #expect(
        reports.map(\.domain) == expected.map(\.0)
          && reports.map(\.reason) == expected.map(\.1), "example \(index)")
      closedByWaiting += expected.count { $0.1 == .waited }
    }
    // The stream exercised both ways of closing.
    #expect(closedByWaiting > 300)
  }

  @Test func aBatchThatMovedToAnotherLaneClosesByThatLanesClock() throws {
    let trainer = try Self.trainer(batchMax: 2, waitMs: 3_000)
    func example(_ domain: String, lane: Int32, atMs time: Int64) -> Example {
      var example = Example(domain: domain, categorical: ["u", "i"], label: 0, eventTimeMs: time)
      example.lane = lane
      return example
    }
    // "s" fills a batch on lane 0 at 1 s, then opens one on lane 1 at the same time.
    #expect(trainer.process(example("s", lane: 0, atMs: 1_000)).isEmpty)
    #expect(trainer.process(example("s", lane: 0, atMs: 1_000)).map(\.reason) == [.full])
    #expect(trainer.process(example("s", lane: 1, atMs: 1_000)).isEmpty)
    // Lane 0's clock passes the wait: the batch is lane 1's, so it stays open.
    #expect(trainer.process(example("x", lane: 0, atMs: 4_000)).isEmpty)
    #expect(trainer.pendingExamples(for: "s").count == 1)
    // Lane 1's clock closes it.
    let closed = trainer.advanceEventTime(to: 4_000, lane: 1)
    #expect(closed.map(\.domain) == ["s"] && closed.map(\.reason) == [.waited])
  }

  @Test func staleEntriesDoNotPileUpWhenBatchesCloseFullLongBeforeTheirWait() throws {
    // A wait of about three years: every batch closes full, and each leaves an entry behind.
    let trainer = try Self.trainer(batchMax: 2, waitMs: 100_000_000_000)
    var full = 0
    for index in 0..<6_000 {
      let example = Example(
        domain: "d\(index % 3)", categorical: ["u", "i"], label: 0,
        eventTimeMs: Int64(index) * 1_000)
      full += trainer.process(example).count
    }
    #expect(full == 3_000)
    let entries = trainer.openBatches.values.reduce(0) { $0 + $1.count }
    #expect(entries <= 4 * 3 + 1_024 + 1, "\(entries) entries for 3 domains")
    // An open batch is still found when its wait is over, and only then.
    #expect(
      trainer.process(
        Example(domain: "d1", categorical: ["u", "i"], label: 0, eventTimeMs: 6_000_000)
      ).isEmpty)
    #expect(trainer.advanceEventTime(to: 6_000_000 + 99_999_999_999).isEmpty)
    let waited = trainer.advanceEventTime(to: 6_000_000 + 100_000_000_000)
    #expect(waited.map(\.domain) == ["d1"] && waited.map(\.reason) == [.waited])
    #expect(trainer.flush().isEmpty)
  }
}

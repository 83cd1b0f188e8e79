import Base
import Observability
import Testing

@testable import Learner

/// A batch copies the frozen layers' output that its examples' serving scores kept
/// (`train.frozen_rows`) instead of running those layers again. Which rows it found must never
/// change a bit of any kernel, report or serving score: a run that keeps no rows is the
/// reference.
@Suite struct FrozenRowsTests {
  static func makeTrainer(
    frozenRows: Int, threads: Int = 1, mode: AdaptationMode = .kernel,
    insertAt: InsertionPoint = .hidden(1)
  ) throws -> Trainer {
    try Trainer(
      backbone: try Backbone(config: TrainerTests.backboneConfig, seed: 4),
      kernelConfig: KernelConfig(insertAt: insertAt, bottleneck: 3, encoderHidden: 5),
      config: TrainConfig(
        batchMax: 8, batchMaxWaitMs: 30_000, learningRate: 3e-3, stepsPerBatch: 4, mode: mode,
        activationMinExamples: 16, threads: threads, frozenRows: frozenRows))
  }

  /// Feeds `stream` as the pipeline does, `ahead` impressions at a time: each impression is
  /// scored as it arrives, by `scorer` or else by `trainer`, and its score travels with its
  /// example; then the block's labels come, in order. Only every `scoredEvery`-th impression is
  /// scored (the others reach training without a score, as after a restore).
  static func run(
    _ stream: [Example], ahead: Int, into trainer: Trainer, scorer: Trainer? = nil,
    scoredEvery: Int = 1
  ) -> TrainerParallelTests.Run {
    var run = TrainerParallelTests.Run()
    var start = 0
    while start < stream.count {
      var block = Array(stream[start..<min(start + ahead, stream.count)])
      for index in block.indices where (start + index) % scoredEvery == 0 {
        let score = (scorer ?? trainer).servingScore(for: block[index])
        run.servingScores += [score.backboneLogit.bitPattern, score.kernelLogit.bitPattern]
        block[index].servingScore = score
        block[index].frozenRow = score.frozenRow
      }
      for example in block { run.note(trainer.process(example)) }
      start += ahead
    }
    run.note(trainer.flush())
    return run
  }

  /// Every kernel's parameters and moments, as bit patterns, by domain.
  static func kernelBits(of trainer: Trainer) -> [String: [UInt32]] {
    trainer.kernels.mapValues { kernel in
      (kernel.parameters + kernel.firstMoment + kernel.secondMoment).map(\.bitPattern)
        + [UInt32(kernel.stepCount), UInt32(kernel.examplesSeen)]
    }
  }

  @Test(arguments: [InsertionPoint.embedding, .hidden(1), .hidden(2)])
  func rowsFoundOrComputedTrainTheSameBits(insertAt: InsertionPoint) throws {
    let stream = TrainerParallelTests.stream(count: 900, seed: 31)
    let reference = try Self.makeTrainer(frozenRows: 0, insertAt: insertAt)
    let expected = Self.run(stream, ahead: 40, into: reference)
    #expect(reference.frozenRowCounts.kept == 0)
    #expect(reference.frozenRowCounts.computed == stream.count)

    // Every row found: the ring holds more than the impressions waiting.
    let everyRow = try Self.makeTrainer(frozenRows: 4_096, insertAt: insertAt)
    #expect(Self.run(stream, ahead: 40, into: everyRow) == expected)
    #expect(everyRow.frozenRowCounts.kept == stream.count)
    #expect(everyRow.frozenRowCounts.computed == 0)
    #expect(Self.kernelBits(of: everyRow) == Self.kernelBits(of: reference))

    // Some found, some not: a ring of 16 while 40 wait loses the oldest rows of each block,
    // and every third impression is not scored at all; batches then mix both kinds. On one
    // thread and on two.
    for threads in [1, 2] {
      let reference = try Self.makeTrainer(frozenRows: 0, threads: threads, insertAt: insertAt)
      let expected = Self.run(stream, ahead: 40, into: reference, scoredEvery: 3)
      let mixed = try Self.makeTrainer(frozenRows: 16, threads: threads, insertAt: insertAt)
      let run = Self.run(stream, ahead: 40, into: mixed, scoredEvery: 3)
      #expect(run == expected, "\(insertAt), train.threads = \(threads)")
      #expect(threads == 1 || run.mostClosedTogether > 1, "batches closed together")
      let counts = mixed.frozenRowCounts
      #expect(counts.kept > 50 && counts.computed > 600, "\(counts)")
      #expect(counts.kept + counts.computed == stream.count)
      #expect(Self.kernelBits(of: mixed) == Self.kernelBits(of: reference))
    }
  }

  @Test(arguments: [AdaptationMode.outputBias, .fullFineTuning])
  func otherModesTrainTheSameBitsFromFoundRows(mode: AdaptationMode) throws {
    let stream = TrainerParallelTests.stream(count: 600, seed: 8)
    let reference = try Self.makeTrainer(frozenRows: 0, mode: mode)
    let found = try Self.makeTrainer(frozenRows: 4_096, mode: mode)
    let expected = Self.run(stream, ahead: 25, into: reference)
    #expect(Self.run(stream, ahead: 25, into: found) == expected, "\(mode)")
    #expect(found.frozenRowCounts.kept == stream.count)
    if mode == .fullFineTuning {
      let tuned = try #require(found.tunedBackbone)
      let tunedReference = try #require(reference.tunedBackbone)
      #expect(tuned.dense.map(\.bitPattern) == tunedReference.dense.map(\.bitPattern))
    }
  }

  /// A ticket finds only the row its own trainer kept: scores made by another trainer (another
  /// process, an earlier trainer before a restore) find nothing and their rows are computed.
  @Test func anotherTrainersTicketsFindNothing() throws {
    let stream = TrainerParallelTests.stream(count: 300, seed: 5)
    let scorer = try Self.makeTrainer(frozenRows: 4_096)
    let reference = try Self.makeTrainer(frozenRows: 0)
    let trainer = try Self.makeTrainer(frozenRows: 4_096)
    let expected = Self.run(stream, ahead: 10, into: reference, scorer: scorer)
    #expect(Self.run(stream, ahead: 10, into: trainer, scorer: scorer) == expected)
    #expect(trainer.frozenRowCounts.kept == 0)
    #expect(trainer.frozenRowCounts.computed == stream.count)
    #expect(Self.kernelBits(of: trainer) == Self.kernelBits(of: reference))
  }

  /// The ring: a row is found until `capacity` newer rows were kept, never after; a ring of no
  /// rows issues no ticket and holds no memory.
  @Test func aRowIsFoundUntilCapacityNewerRowsAreKept() {
    func keep(_ values: [Float], in rows: FrozenRows) -> UInt64 {
      values.withUnsafeBufferPointer { rows.keep($0.baseAddress!) }.value
    }
    let rows = FrozenRows(width: 3, capacity: 4)
    #expect(rows.heldBytes == 0)
    var tickets: [UInt64] = []
    for index in 0..<6 {
      let values: [Float] = [Float(index), Float(index) + 0.5, -Float(index)]
      tickets.append(keep(values, in: rows))
    }
    #expect(rows.heldBytes == 4 * (3 * 4 + 8))
    #expect(Set(tickets).count == 6 && !tickets.contains(0))
    #expect(
      rows.slot(of: FrozenRowTicket(tickets[0])) == nil
        && rows.slot(of: FrozenRowTicket(tickets[1])) == nil)
    for index in 2..<6 {
      let slot = rows.slot(of: FrozenRowTicket(tickets[index]))
      #expect(slot != nil)
      var representation = [Float](repeating: .nan, count: 3)
      representation.withUnsafeMutableBufferPointer {
        rows.copy(slot: slot ?? 0, into: $0.baseAddress!)
      }
      #expect(representation == [Float(index), Float(index) + 0.5, -Float(index)])
    }
    #expect(rows.slot(of: .none) == nil)
    let none = FrozenRows(width: 3, capacity: 0)
    #expect(keep([1, 1, 1], in: none) == 0)
    #expect(none.heldBytes == 0)
  }

  /// `iak_training_frozen_rows_bytes` is what the trainer's ring holds: nothing until the first
  /// impression is scored, then the whole ring (rows of the representation's width, a stamp
  /// each), whatever the number of domains; nothing at `train.frozen_rows = 0`.
  @Test func theRingsBytesAreAGauge() throws {
    // The representation below the kernel at hidden(1) is the first hidden layer's 12 floats.
    let perRow = 12 * MemoryLayout<Float>.size + MemoryLayout<UInt64>.size
    for capacity in [0, 100] {
      let trainer = try Self.makeTrainer(frozenRows: capacity)
      let registry = MetricsRegistry()
      let metrics = LearnerMetrics(registry: registry)
      trainer.publish(to: metrics)
      #expect(registry.render().contains("\niak_training_frozen_rows_bytes 0\n"))
      for example in TrainerTests.stream(count: 50, seed: 7) {
        _ = trainer.servingScore(for: example)
      }
      trainer.publish(to: metrics)
      #expect(trainer.frozenRowBytes == capacity * perRow)
      #expect(
        registry.render().contains("\niak_training_frozen_rows_bytes \(capacity * perRow)\n"),
        "\(registry.render())")
    }
  }
}

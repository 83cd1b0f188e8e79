import Checkpoint
import Testing

@testable import Learner

/// `train.threads` > 1: batches of different domains closing together train at once, and every
/// kernel, report and serving score is bit-identical to one thread's, also across a restart.
@Suite struct TrainerParallelTests {
  /// Ten domains on two lanes; every 40 examples event time jumps past `batch_max_wait`, so
  /// many batches of a lane close together, and some close full in between.
  static func stream(count: Int, seed: UInt64) -> [Example] {
    var random = NoiseGenerator(state: seed)
    var time: Int64 = 0
    return (0..<count).map { index in
      time += index % 40 == 39 ? 45_000 : 1_000
      let domain = random.nextInt(below: 10)
      let item = random.nextInt(below: 10)
      let rate = domain < 3 ? 0.8 : (item < 5 ? 0.6 : 0.2)
      return Example(
        domain: "d\(domain)", categorical: ["u\(random.nextInt(below: 20))", "i\(item)"],
        label: random.nextUniform() < rate ? 1 : 0, eventTimeMs: time, lane: Int32(domain % 2))
    }
  }

  static func makeTrainer(threads: Int, mode: AdaptationMode = .kernel) throws -> Trainer {
    try Trainer(
      backbone: try Backbone(config: TrainerTests.backboneConfig, seed: 4),
      kernelConfig: KernelConfig(insertAt: .hidden(1), bottleneck: 3, encoderHidden: 5),
      config: TrainConfig(
        batchMax: 8, batchMaxWaitMs: 30_000, learningRate: 3e-3, stepsPerBatch: 4, mode: mode,
        activationMinExamples: 16, threads: threads))
  }

  /// What a run gives, as bit patterns: each closing call's reports, and the serving score of
  /// each example taken before the trainer sees it (as the pipeline scores an impression).
  struct Run: Equatable {
    var reports: [[[UInt32]]] = []
    var servingScores: [UInt32] = []
    /// The largest number of batches one call closed.
    var mostClosedTogether = 0

    mutating func note(_ closed: [BatchReport]) {
      mostClosedTogether = max(mostClosedTogether, closed.count)
      reports.append(
        closed.map { report in
          [UInt32(report.size), report.learningRate.bitPattern, report.trainingLoss.bitPattern]
            + report.adaptedLogits.map(\.bitPattern) + report.backboneLogits.map(\.bitPattern)
            + report.labels.map(\.bitPattern) + [report.isActive ? 1 : 0]
            + Array((report.domain + "/" + report.reason.rawValue).utf8).map(UInt32.init)
            + [UInt32(truncatingIfNeeded: report.lastEventTimeMs)]
        })
    }

    mutating func feed(_ examples: ArraySlice<Example>, to trainer: Trainer) {
      for example in examples {
        let score = trainer.servingScore(for: example)
        servingScores += [score.backboneLogit.bitPattern, score.kernelLogit.bitPattern]
        note(trainer.process(example))
      }
    }
  }

  func checkThreadsMatchOneThread(mode: AdaptationMode) throws {
    let stream = Self.stream(count: 900, seed: 31)
    let single = try Self.makeTrainer(threads: 1, mode: mode)
    var expected = Run()
    expected.feed(stream[...], to: single)
    expected.note(single.flush())
    #expect(single.workers == nil)
    #expect(expected.mostClosedTogether >= 4, "the stream must close batches together")

    for threads in [2, 3] {
      let trainer = try Self.makeTrainer(threads: threads, mode: mode)
      #expect(trainer.workers?.threadCount == threads)
      var run = Run()
      run.feed(stream[...], to: trainer)
      run.note(trainer.flush())
      let isSame = run == expected
      #expect(isSame, "train.threads = \(threads): reports or serving scores differ")
      #expect(
        SafeTensors(tensors: trainer.stateTensors()).encoded()
          == SafeTensors(tensors: single.stateTensors()).encoded(), "train.threads = \(threads)")
    }
  }

  @Test func kernelsReportsAndServingScoresMatchOneThread() throws {
    try checkThreadsMatchOneThread(mode: .kernel)
  }

  @Test func outputBiasesMatchOneThread() throws {
    try checkThreadsMatchOneThread(mode: .outputBias)
  }

  @Test func aRestartBetweenThreadCountsEndsLikeOneThreadNeverStopping() throws {
    let stream = Self.stream(count: 700, seed: 32)
    let single = try Self.makeTrainer(threads: 1)
    var expected = Run()
    expected.feed(stream[...], to: single)

    // Stopped with batches open, restored into a trainer with another thread count.
    let stop = 333
    let first = try Self.makeTrainer(threads: 2)
    var run = Run()
    run.feed(stream[..<stop], to: first)
    #expect(first.domains.contains { !first.pendingExamples(for: $0).isEmpty })
    let bytes = SafeTensors(tensors: first.stateTensors()).encoded()
    let resumed = try Self.makeTrainer(threads: 3)
    try resumed.restore(stateTensors: try SafeTensors.decode(bytes).tensors)
    run.feed(stream[stop...], to: resumed)

    let isSame = run == expected
    #expect(isSame, "reports or serving scores differ from one thread's")
    #expect(resumed.flush() == single.flush())
    #expect(
      SafeTensors(tensors: resumed.stateTensors()).encoded()
        == SafeTensors(tensors: single.stateTensors()).encoded())
  }

  @Test func fullFineTuningTrainsOnOneThread() throws {
    #expect(TrainConfig(mode: .fullFineTuning, threads: 4).effectiveThreads == 1)
    #expect(TrainConfig(mode: .kernel, threads: 4).effectiveThreads == 4)
    let trainer = try Self.makeTrainer(threads: 4, mode: .fullFineTuning)
    #expect(trainer.workers == nil)
    #expect(throws: LearnerError.self) { try Self.makeTrainer(threads: 0) }
  }
}

import Checkpoint
import Foundation
import Testing

@testable import Learner

@Suite struct TrainerTests {
  static let backboneConfig = BackboneConfig(
    fields: ["user", "item"], buckets: 64, embeddingDim: 4, hiddenSizes: [12, 8])

  /// A stream over three domains where domain "hot" clicks far more than the backbone expects.
  static func stream(count: Int, seed: UInt64) -> [Example] {
    var random = NoiseGenerator(state: seed)
    return (0..<count).map { index in
      let domain = ["hot", "hot", "cold", "warm"][index % 4]
      let item = random.nextInt(below: 10)
      let rate = domain == "hot" ? 0.85 : (item < 5 ? 0.6 : 0.2)
      return Example(
        domain: domain, categorical: ["u\(random.nextInt(below: 20))", "i\(item)"],
        label: random.nextUniform() < rate ? 1 : 0, eventTimeMs: Int64(index) * 1000)
    }
  }

  static func makeTrainer(
    mode: AdaptationMode = .kernel, insertAt: InsertionPoint = .hidden(1)
  ) throws -> Trainer {
    let backbone = try Backbone(config: backboneConfig, seed: 4)
    return try Trainer(
      backbone: backbone,
      kernelConfig: KernelConfig(insertAt: insertAt, bottleneck: 3, encoderHidden: 5),
      config: TrainConfig(
        batchMax: 8, batchMaxWaitMs: 30_000, learningRate: 3e-3, stepsPerBatch: 4, mode: mode,
        activationMinExamples: 16))
  }

  static func stateBytes(_ trainer: Trainer) -> [UInt8] {
    var tensors: [String: Tensor] = [:]
    for (domain, kernel) in trainer.kernels {
      tensors.merge(kernel.stateTensors(prefix: domain + "/")) { first, _ in first }
    }
    return SafeTensors(tensors: tensors).encoded()
  }

  @Test func zeroKernelScoresAreBitIdenticalToTheBackbone() throws {
    for insertAt in [InsertionPoint.embedding, .hidden(1), .hidden(2)] {
      let trainer = try Self.makeTrainer(insertAt: insertAt)
      var reports: [BatchReport] = []
      for example in Self.stream(count: 8, seed: 1) { reports += trainer.process(example) }
      reports += trainer.flush()
      #expect(!reports.isEmpty)
      for report in reports {
        #expect(report.adaptedLogits.map(\.bitPattern) == report.backboneLogits.map(\.bitPattern))
      }
    }
  }

  @Test func trainingLeavesTheBackboneBitForBitUnchanged() throws {
    let trainer = try Self.makeTrainer()
    let original = trainer.backbone
    let probe = Self.stream(count: 40, seed: 9)
    let before = original.probabilities(for: probe).map(\.bitPattern)
    for example in Self.stream(count: 400, seed: 2) { _ = trainer.process(example) }
    _ = trainer.flush()
    #expect(trainer.backbone == original)
    #expect(trainer.backbone.probabilities(for: probe).map(\.bitPattern) == before)
    #expect(trainer.kernel(for: "hot")?.hasZeroDecoder == false)
  }

  @Test func kernelLearnsADomainShiftThatTheBackboneMisses() throws {
    let trainer = try Self.makeTrainer()
    for example in Self.stream(count: 4000, seed: 3) { _ = trainer.process(example) }
    _ = trainer.flush()
    let evaluation = try #require(trainer.evaluation(for: "hot"))
    let adapted = try #require(evaluation.adapted.windowLogLoss)
    let backbone = try #require(evaluation.backbone.windowLogLoss)
    #expect(adapted < backbone - 0.05)
    let proxies = try #require(trainer.proxies(for: "hot"))
    #expect(proxies.relativeDecoderNorm > 0)
    #expect(proxies.kernelRelevanceBits > proxies.backboneRelevanceBits)
    #expect(proxies.meanKL.isFinite && proxies.muVariance.isFinite)
    #expect(proxies.klPerDimension.count == 3)
    #expect(trainer.kernel(for: "hot")?.isActive == true)
  }

  @Test func batchesCloseWhenFullOrAfterTheirWaitInEventTime() throws {
    let trainer = try Self.makeTrainer()
    var reports: [BatchReport] = []
    // Eight "hot" examples 1 s apart close one full batch.
    for index in 0..<8 {
      reports += trainer.process(
        Example(domain: "hot", categorical: ["u", "i"], label: 1, eventTimeMs: Int64(index) * 1000))
    }
    #expect(reports.map(\.reason) == [.full])
    #expect(reports.first?.size == 8)
    // One quiet example, then a hot example 30 s later: the quiet batch closes by waiting.
    reports = trainer.process(
      Example(domain: "quiet", categorical: ["u", "i"], label: 0, eventTimeMs: 10_000))
    #expect(reports.isEmpty)
    reports = trainer.process(
      Example(domain: "hot", categorical: ["u", "i"], label: 1, eventTimeMs: 40_000))
    #expect(reports.map(\.domain) == ["quiet"])
    #expect(reports.map(\.reason) == [.waited])
    // The square-root rule: one example of eight learns at lr * sqrt(1/8).
    let rate = try #require(reports.first?.learningRate)
    #expect(abs(rate - 3e-3 * (1.0 / 8.0 as Float).squareRoot()) < 1e-9)
    #expect(trainer.flush().map(\.reason) == [.flushed])
  }

  /// An example of `domain` at `seconds` of event time.
  static func example(_ domain: String, atSecond seconds: Int64, label: Float = 0) -> Example {
    Example(domain: domain, categorical: ["u", "i"], label: label, eventTimeMs: seconds * 1000)
  }

  @Test func lateLabelledExamplesWaitFromWhenTheirBatchOpened() throws {
    // Negatives are known only label.wait after their impression, so they reach the trainer with
    // event times far behind its clock. Their batch must still fill up or wait 30 s from when it
    // opened, not close at once because its first example's own time is old.
    let trainer = try Self.makeTrainer()
    var reports: [BatchReport] = []
    for second in Int64(113)...120 {
      reports += trainer.process(Self.example("hot", atSecond: second))
    }
    #expect(reports.map(\.reason) == [.full])
    reports = []
    for second in Int64(60)..<68 {
      reports += trainer.process(Self.example("late", atSecond: second))
    }
    #expect(reports.map(\.domain) == ["late"])
    #expect(reports.map(\.reason) == [.full])
    #expect(reports.first?.size == 8)
    // A late example opens a batch at the clock's 120 s: still open at 149 s, closed at 150 s.
    #expect(trainer.process(Self.example("late", atSecond: 68)).isEmpty)
    #expect(trainer.process(Self.example("hot", atSecond: 149)).isEmpty)
    reports = trainer.process(Self.example("hot", atSecond: 150))
    #expect(reports.map(\.domain) == ["late"])
    #expect(reports.map(\.reason) == [.waited])
    #expect(reports.first?.size == 1)
  }

  @Test func sameInputAndSeedGiveIdenticalKernelBytes() throws {
    let first = try Self.makeTrainer()
    let second = try Self.makeTrainer()
    for example in Self.stream(count: 300, seed: 5) {
      _ = first.process(example)
      _ = second.process(example)
    }
    #expect(Self.stateBytes(first) == Self.stateBytes(second))
    #expect(!Self.stateBytes(first).isEmpty)
  }

  @Test func howLanesInterleaveNeverChangesAKernel() throws {
    // Lane 1's clock runs far ahead of lane 0's: on one shared clock its events would close
    // lane 0's batches early whenever they came first.
    let first = Self.stream(count: 120, seed: 5).filter { $0.domain != "warm" }
    let second = Self.stream(count: 120, seed: 6).filter { $0.domain == "warm" }.map {
      var example = $0
      example.eventTimeMs += 50_000_000
      example.lane = 1
      return example
    }
    let sequential = try Self.makeTrainer()
    for example in first + second { _ = sequential.process(example) }
    let interleaved = try Self.makeTrainer()
    var (left, right) = (first[...], second[...])
    while !left.isEmpty || !right.isEmpty {
      if let example = right.popFirst() { _ = interleaved.process(example) }
      for _ in 0..<2 { if let example = left.popFirst() { _ = interleaved.process(example) } }
    }
    #expect(sequential.laneTimeMs == interleaved.laneTimeMs)
    #expect(Self.stateBytes(sequential) == Self.stateBytes(interleaved))
    #expect(sequential.kernel(for: "hot")!.stepCount > 0)
  }

  @Test func restoredKernelStateContinuesExactlyLikeNeverStopping() throws {
    let stream = Self.stream(count: 600, seed: 6)
    let uninterrupted = try Self.makeTrainer()
    for example in stream { _ = uninterrupted.process(example) }

    let before = try Self.makeTrainer()
    for example in stream[..<301] { _ = before.process(example) }
    // Snapshot: every kernel's state through safetensors bytes, plus the open batches.
    let bytes = Self.stateBytes(before)
    let decoded = try SafeTensors.decode(bytes)
    let resumed = try Self.makeTrainer()
    for domain in before.domains {
      let kernel = try IAKKernel(
        domain: domain, stateTensors: decoded.tensors, prefix: domain + "/")
      #expect(kernel == before.kernel(for: domain))
      try resumed.install(kernel, pending: before.pendingExamples(for: domain))
    }
    _ = resumed.advanceEventTime(to: before.eventTimeMs)
    for example in stream[301...] { _ = resumed.process(example) }
    #expect(Self.stateBytes(resumed) == Self.stateBytes(uninterrupted))
  }

  @Test func missingStateTensorIsReportedByName() throws {
    let trainer = try Self.makeTrainer()
    for example in Self.stream(count: 16, seed: 7) { _ = trainer.process(example) }
    var tensors = try #require(trainer.kernel(for: "hot")).stateTensors()
    tensors["adam.step"] = nil
    #expect(throws: LearnerError.self) {
      try IAKKernel(domain: "hot", stateTensors: tensors)
    }
  }

  @Test func outputBiasModeLearnsTheDomainShift() throws {
    let trainer = try Self.makeTrainer(mode: .outputBias)
    for example in Self.stream(count: 2000, seed: 8) { _ = trainer.process(example) }
    let bias = try #require(trainer.outputBias(for: "hot"))
    let evaluation = try #require(trainer.evaluation(for: "hot"))
    #expect(bias.stepCount > 0)
    #expect(
      try #require(evaluation.adapted.windowLogLoss) < #require(evaluation.backbone.windowLogLoss))
  }

  @Test func fullFineTuningChangesOnlyTheTunedCopy() throws {
    let trainer = try Self.makeTrainer(mode: .fullFineTuning)
    let original = trainer.backbone
    for example in Self.stream(count: 800, seed: 10) { _ = trainer.process(example) }
    let tuned = try #require(trainer.tunedBackbone)
    #expect(tuned != original)
    #expect(trainer.backbone == original)
    let evaluation = try #require(trainer.evaluation(for: "hot"))
    #expect(
      try #require(evaluation.adapted.windowLogLoss) < #require(evaluation.backbone.windowLogLoss))
  }

  /// A serving score builds its example only where it needs one, and at most once: not at all
  /// from a prepared input (but for a stage that scores the whole example), once without one.
  @Test(arguments: AdaptationMode.allCases)
  func servingScoreBuildsItsExampleAtMostOnce(mode: AdaptationMode) throws {
    let trainer = try Self.makeTrainer(mode: mode)
    let stream = Self.stream(count: 200, seed: 15)
    for example in stream { _ = trainer.process(example) }
    let impression = try #require(stream.last)
    for domain in [impression.domain, "not-trained"] {
      var built = 0
      let here = trainer.servingScore(in: domain, input: nil) {
        built += 1
        return impression
      }
      #expect(built == 1, "\(mode), \(domain)")
      let input = trainer.makeServingPreparer().inputs(for: [impression])[0]
      built = 0
      let ahead = trainer.servingScore(in: domain, input: input) {
        built += 1
        return impression
      }
      #expect(built == (mode == .fullFineTuning ? 1 : 0), "\(mode), \(domain)")
      #expect(ahead == here, "\(mode), \(domain)")
    }
  }

  @Test func newDomainWarmStartsFromThePreviousPeriod() throws {
    let trainer = try Self.makeTrainer()
    for example in Self.stream(count: 200, seed: 14) { _ = trainer.process(example) }
    let previous = try #require(trainer.kernel(for: "hot"))
    trainer.startDomain("hot-next", warmFrom: "hot")
    let started = try #require(trainer.kernel(for: "hot-next"))
    #expect(started.domain == "hot-next")
    #expect(started.weightTensors() == previous.weightTensors())
    #expect(started.stepCount == previous.stepCount)
    #expect(started.noise != previous.noise)
    trainer.startDomain("fresh", warmFrom: "no-such-domain")
    #expect(trainer.kernel(for: "fresh") == nil)
  }

  @Test func publishedWeightsAloneRebuildAServingKernel() throws {
    let trainer = try Self.makeTrainer()
    for example in Self.stream(count: 200, seed: 15) { _ = trainer.process(example) }
    let trained = try #require(trainer.kernel(for: "hot"))
    let bytes = SafeTensors(tensors: trained.weightTensors(prefix: "k/")).encoded()
    let serving = try IAKKernel(
      domain: "hot", weightTensors: SafeTensors.decode(bytes).tensors, prefix: "k/")
    #expect(serving.layout == trained.layout)
    #expect(serving.weightTensors() == trained.weightTensors())
    #expect(serving.isActive)
    #expect(throws: LearnerError.self) {
      try IAKKernel(domain: "hot", weightTensors: [:])
    }
  }
}

import Checkpoint
import Testing

@testable import Learner

@Suite struct TrainerStateTests {
  /// The trainer's exported state as safetensors bytes.
  static func snapshotBytes(_ trainer: Trainer) -> [UInt8] {
    SafeTensors(tensors: trainer.stateTensors()).encoded()
  }

  /// Snapshots `trainer` through safetensors bytes and restores it into a fresh trainer.
  static func restart(_ trainer: Trainer, mode: AdaptationMode) throws -> Trainer {
    let decoded = try SafeTensors.decode(snapshotBytes(trainer))
    let resumed = try TrainerTests.makeTrainer(mode: mode)
    try resumed.restore(stateTensors: decoded.tensors)
    return resumed
  }

  /// Stop points of `stream`: right after a batch closed, and in the middle of open batches.
  static func stopPoints(_ stream: [Example], mode: AdaptationMode) throws -> (
    afterClose: Int, midBatch: Int
  ) {
    let probe = try TrainerTests.makeTrainer(mode: mode)
    var afterClose: Int?
    var midBatch: Int?
    for (index, example) in stream.enumerated() {
      let closed = !probe.process(example).isEmpty
      if index > 100, closed, afterClose == nil { afterClose = index + 1 }
      if index > 300, !closed, midBatch == nil, probe.pendingExamples(for: "hot").count >= 3 {
        midBatch = index + 1
      }
    }
    return (try #require(afterClose), try #require(midBatch))
  }

  /// Every domain's evaluation figures, as bit patterns.
  static func figures(_ trainer: Trainer) -> [String: [UInt64]] {
    var result: [String: [UInt64]] = [:]
    for domain in trainer.domains {
      guard let evaluation = trainer.evaluation(for: domain) else { continue }
      var values: [UInt64] = [UInt64(evaluation.batches)]
      for meter in [evaluation.adapted, evaluation.backbone] {
        values += [UInt64(meter.count), UInt64(meter.positives)]
        for figure in [meter.cumulativeAUC, meter.windowAUC, meter.logLoss, meter.windowLogLoss] {
          values.append(figure?.bitPattern ?? 0xdead)
        }
      }
      result[domain] = values
    }
    return result
  }

  func checkRestartsMatchNeverStopping(mode: AdaptationMode) throws {
    let stream = TrainerTests.stream(count: 700, seed: 21)
    let uninterrupted = try TrainerTests.makeTrainer(mode: mode)
    for example in stream { _ = uninterrupted.process(example) }

    let (afterClose, midBatch) = try Self.stopPoints(stream, mode: mode)
    #expect(afterClose < midBatch)
    var trainer = try TrainerTests.makeTrainer(mode: mode)
    var start = 0
    for stop in [0, afterClose, midBatch, midBatch + 1] {
      for example in stream[start..<stop] { _ = trainer.process(example) }
      start = stop
      let before = Self.snapshotBytes(trainer)
      let pending = trainer.domains.map { trainer.pendingExamples(for: $0) }
      if stop == midBatch { #expect(pending.contains { !$0.isEmpty }) }
      trainer = try Self.restart(trainer, mode: mode)
      #expect(Self.snapshotBytes(trainer) == before)
      #expect(trainer.domains.map { trainer.pendingExamples(for: $0) } == pending)
    }
    for example in stream[start...] { _ = trainer.process(example) }

    #expect(Self.snapshotBytes(trainer) == Self.snapshotBytes(uninterrupted))
    #expect(trainer.domains == ["cold", "hot", "warm"])
    #expect(trainer.eventTimeMs == uninterrupted.eventTimeMs)
    #expect(Self.figures(trainer) == Self.figures(uninterrupted))
    for domain in trainer.domains {
      #expect(trainer.evaluation(for: domain) == uninterrupted.evaluation(for: domain))
      #expect(trainer.proxies(for: domain) == uninterrupted.proxies(for: domain))
      #expect(trainer.kernel(for: domain) == uninterrupted.kernel(for: domain))
      #expect(trainer.outputBias(for: domain) == uninterrupted.outputBias(for: domain))
      #expect(trainer.pendingExamples(for: domain) == uninterrupted.pendingExamples(for: domain))
    }
    // The flushed ends agree too, so the restored pending batches were the right ones.
    #expect(trainer.flush() == uninterrupted.flush())
    #expect(Self.snapshotBytes(trainer) == Self.snapshotBytes(uninterrupted))
  }

  @Test func kernelModeRestartsGiveTheSameStateAndFiguresAsNeverStopping() throws {
    try checkRestartsMatchNeverStopping(mode: .kernel)
    let trainer = try TrainerTests.makeTrainer()
    for example in TrainerTests.stream(count: 100, seed: 22) { _ = trainer.process(example) }
    let evaluation = try #require(trainer.evaluation(for: "hot"))
    #expect(evaluation.adapted.cumulativeAUC != nil && evaluation.adapted.windowAUC != nil)
    #expect(try #require(trainer.proxies(for: "hot")).batches > 0)
  }

  @Test func outputBiasRestartsGiveTheSameStateAndFiguresAsNeverStopping() throws {
    try checkRestartsMatchNeverStopping(mode: .outputBias)
    let trainer = try TrainerTests.makeTrainer(mode: .outputBias)
    for example in TrainerTests.stream(count: 100, seed: 23) { _ = trainer.process(example) }
    #expect(trainer.stateTensors()["hot/output_bias"] != nil)
    #expect(try #require(trainer.outputBias(for: "hot")).stepCount > 0)
  }

  @Test func aRestoredBatchWaitsFromWhenItOpened() throws {
    let trainer = try TrainerTests.makeTrainer()
    _ = trainer.process(TrainerTests.example("hot", atSecond: 120))
    // Opened at the clock's 120 s although its example is from 60 s (a late label).
    _ = trainer.process(TrainerTests.example("late", atSecond: 60))
    let tensors = try SafeTensors.decode(Self.snapshotBytes(trainer)).tensors
    #expect(try tensors["late/pending.opened_ms"]?.int64s() == [120_000])

    let restored = try TrainerTests.makeTrainer()
    try restored.restore(stateTensors: tensors)
    #expect(restored.process(TrainerTests.example("hot", atSecond: 149)).isEmpty)
    let reports = restored.process(TrainerTests.example("hot", atSecond: 150))
    #expect(reports.map(\.domain) == ["hot", "late"])
    #expect(reports.map(\.reason) == [.waited, .waited])

    // A snapshot written before the opening time was kept: the batch counts from its first
    // example's event time, as it did then, so it is overdue at once.
    var older = tensors
    older["late/pending.opened_ms"] = nil
    older["hot/pending.opened_ms"] = nil
    let fromOlder = try TrainerTests.makeTrainer()
    try fromOlder.restore(stateTensors: older)
    #expect(fromOlder.process(TrainerTests.example("hot", atSecond: 121)).map(\.domain) == ["late"])
  }

  @Test func pendingExamplesRoundTripBitForBit() throws {
    let examples = [
      Example(
        domain: "1998-03/9", categorical: ["", "é✓", "u\u{0}1"],
        numeric: [1.5, -0, .infinity, Float(bitPattern: 0x7fc0_1234)], label: 1,
        eventTimeMs: .min),
      Example(domain: "1998-03/9", categorical: [], label: 0, eventTimeMs: 42, lane: -7),
    ]
    let bytes = Example.encoded(examples)
    let decoded = try Example.decoded(from: bytes, source: "test")
    #expect(decoded.count == 2)
    #expect(decoded[0].categorical == examples[0].categorical)
    #expect(decoded[0].numeric.map(\.bitPattern) == examples[0].numeric.map(\.bitPattern))
    #expect(decoded[1] == examples[1])
    #expect(decoded[0].eventTimeMs == .min && decoded[0].domain == "1998-03/9")
    #expect(Example.encoded(decoded) == bytes)
    for length in [0, 3, 10, bytes.count - 1] {
      #expect(throws: LearnerError.self) {
        try Example.decoded(from: Array(bytes[..<length]), source: "test")
      }
    }
    #expect(throws: LearnerError.self) {
      try Example.decoded(from: bytes + [0], source: "test")
    }
    #expect(throws: LearnerError.self) {
      try Example.decoded(from: [0xff, 0xff, 0xff, 0xff], source: "test")
    }
  }

  @Test func malformedSnapshotsThrowAndLeaveTheTrainerUnchanged() throws {
    let source = try TrainerTests.makeTrainer()
    for example in TrainerTests.stream(count: 203, seed: 24) { _ = source.process(example) }
    let good = source.stateTensors()
    #expect(!source.pendingExamples(for: "hot").isEmpty)

    let target = try TrainerTests.makeTrainer()
    for example in TrainerTests.stream(count: 50, seed: 25) { _ = target.process(example) }
    let targetBytes = TrainerStateTests.snapshotBytes(target)

    func expectRefused(_ change: (inout [String: Tensor]) -> Void, naming name: String) {
      var tensors = good
      change(&tensors)
      let error = #expect(throws: LearnerError.self) {
        try target.restore(stateTensors: tensors)
      }
      #expect(error.map { "\($0)".contains(name) } == true, "\(String(describing: error))")
      #expect(TrainerStateTests.snapshotBytes(target) == targetBytes)
    }
    // A window longer than the histogram's count.
    let windowLogits = try #require(good["hot/evaluation.adapted.window_logits"]).floats()
    let windowLabels = try #require(good["hot/evaluation.adapted.window_labels"]).bytes
    expectRefused({ $0["hot/pending"] = nil }, naming: "hot/pending")
    expectRefused({ $0[".trainer/state"] = nil }, naming: ".trainer/state")
    expectRefused({ $0["cold/adam.step"] = nil }, naming: "cold/adam.step")
    expectRefused(
      { $0["warm/evaluation.adapted.window_logits"] = Tensor(int64s: [1, 2], shape: [2]) },
      naming: "warm/evaluation.adapted.window_logits")
    expectRefused(
      { $0["warm/evaluation.adapted.histogram"] = Tensor(int64s: [1, 2], shape: [2]) },
      naming: "warm/evaluation.adapted.histogram")
    // Bins out of order (5, then 1); bin 5000 (past the last); a bin without examples; a
    // truncated varint.
    for bytes: [UInt8] in [
      [5, 0, 1, 0, 1, 0, 1, 0], [0x88, 0x13, 1, 0], [7, 0, 0, 0], [7, 0, 0x81],
    ] {
      expectRefused(
        { $0["warm/evaluation.backbone.histogram"] = Tensor(uint8s: bytes, shape: [bytes.count]) },
        naming: "warm/evaluation.backbone.histogram")
    }
    expectRefused(
      { $0["warm/last_seen_ms"] = Tensor(int64s: [1, 2], shape: [2]) },
      naming: "warm/last_seen_ms")
    expectRefused(
      { $0["hot/proxies.values"] = Tensor(doubles: [1, 2, 3, 4, 5, 6], shape: [2, 3]) },
      naming: "hot/proxies.values")
    expectRefused(
      { $0["hot/proxies.kl_per_dimension"] = Tensor(doubles: [1, 2], shape: [2]) },
      naming: "hot/proxies.kl_per_dimension")
    expectRefused(
      { $0["hot/evaluation.backbone.window_labels"] = Tensor(uint8s: [1], shape: [1]) },
      naming: "hot/evaluation.backbone.window_labels")
    expectRefused(
      { tensors in
        // More window examples than the histogram counts.
        tensors["hot/evaluation.adapted.window_logits"] = Tensor(
          floats: windowLogits + windowLogits, shape: [2 * windowLogits.count])
        tensors["hot/evaluation.adapted.window_labels"] = Tensor(
          uint8s: windowLabels + windowLabels, shape: [2 * windowLabels.count])
      }, naming: "hot/evaluation.adapted.window_logits")
    expectRefused(
      { tensors in
        let bytes = tensors["hot/pending"]!.bytes.dropLast()
        tensors["hot/pending"] = Tensor(uint8s: Array(bytes), shape: [bytes.count])
      }, naming: "hot/pending")
    expectRefused(
      { $0["hot/pending.opened_ms"] = Tensor(doubles: [1], shape: [1]) },
      naming: "hot/pending.opened_ms")
    expectRefused(
      { $0[".trainer/domains"] = Tensor(uint8s: [9, 0, 0, 0], shape: [4]) },
      naming: ".trainer/domains")
    expectRefused(
      { $0[".trainer/state"] = Tensor(int64s: [6, 0, 0], shape: [3]) }, naming: "version 6")
    expectRefused({ $0["hot/feedback.click_delays"] = nil }, naming: "hot/feedback.click_delays")
    expectRefused(
      {
        $0["hot/feedback.click_delays"] = Tensor(
          int64s: [1, 2] + Array(repeating: 0, count: 13), shape: [15])
      },
      naming: "hot/feedback.click_delays")
    expectRefused(
      { $0["hot/evaluation.serving.counts"] = Tensor(int64s: [-1, 0], shape: [2]) },
      naming: "hot/evaluation.serving.counts")
    expectRefused(
      { $0["hot/evaluation.serving.kernel.histogram"] = nil },
      naming: "hot/evaluation.serving.kernel.histogram")
    expectRefused(
      { $0[".trainer/state"] = Tensor(int64s: [1, 0, 0], shape: [3]) }, naming: "version 1")
    expectRefused({ $0[".trainer/lanes"] = nil }, naming: ".trainer/lanes")
    expectRefused(
      { $0[".trainer/lanes"] = Tensor(int64s: [0, 1, 2], shape: [3]) }, naming: ".trainer/lanes")
    expectRefused(
      { $0[".trainer/lanes"] = Tensor(int64s: [1 << 40, 1], shape: [2]) },
      naming: ".trainer/lanes")

    // A kernel-mode snapshot is refused by an output-bias trainer, and full fine-tuning cannot
    // be restored at all.
    let biasTrainer = try TrainerTests.makeTrainer(mode: .outputBias)
    #expect(throws: LearnerError.self) { try biasTrainer.restore(stateTensors: good) }
    let tuning = try TrainerTests.makeTrainer(mode: .fullFineTuning)
    #expect(throws: LearnerError.self) {
      try tuning.restore(stateTensors: tuning.stateTensors())
    }
    // The intact snapshot restores.
    try target.restore(stateTensors: good)
    #expect(TrainerStateTests.snapshotBytes(target) == TrainerStateTests.snapshotBytes(source))
  }

  @Test func singleRowBatchesDoNotMoveTheVarianceOfMu() throws {
    func measurement(rows: Int, muVariance: Double) -> BatchMeasurement {
      BatchMeasurement(
        rows: rows, klPerDimension: [0.5, 0.5], clickRate: 0.25, kernelCrossEntropy: 0.6,
        backboneCrossEntropy: 0.7, relativeDecoderNorm: 0.1, muVariance: muVariance)
    }
    var proxies = InformationProxies(dimensions: 2, decay: 0.5, activeUnitThreshold: 0.01)
    proxies.update(with: measurement(rows: 1, muVariance: 0))
    #expect(proxies.batches == 1 && proxies.muVarianceBatches == 0)
    #expect(proxies.clickRate == 0.25)
    proxies.update(with: measurement(rows: 4, muVariance: 0.75))
    #expect(proxies.muVariance == 0.75)  // The first measured batch sets it.
    proxies.update(with: measurement(rows: 1, muVariance: 0))
    #expect(proxies.muVariance == 0.75)
    proxies.update(with: measurement(rows: 2, muVariance: 0.25))
    #expect(proxies.muVariance == 0.5)  // 0.5 * 0.75 + 0.5 * 0.25
    #expect(proxies.batches == 4 && proxies.muVarianceBatches == 2)

    // Through the trainer: a domain whose batches close by waiting with one example each.
    let trainer = try TrainerTests.makeTrainer()
    for index in 0..<5 {
      _ = trainer.process(
        Example(
          domain: "quiet", categorical: ["u\(index)", "i\(index)"], label: Float(index % 2),
          eventTimeMs: Int64(index) * 60_000))
    }
    let quiet = try #require(trainer.proxies(for: "quiet"))
    #expect(quiet.batches == 4)
    #expect(quiet.muVarianceBatches == 0)
    let busy = try TrainerTests.makeTrainer()
    for example in TrainerTests.stream(count: 16, seed: 26) { _ = busy.process(example) }
    let hot = try #require(busy.proxies(for: "hot"))
    #expect(hot.muVarianceBatches == 1 && hot.muVariance > 0)
  }

  /// A trainer whose evaluation window (40) is shorter than the test streams.
  static func makeShortWindowTrainer() throws -> Trainer {
    try Trainer(
      backbone: try Backbone(config: TrainerTests.backboneConfig, seed: 4),
      kernelConfig: KernelConfig(insertAt: .hidden(1), bottleneck: 3, encoderHidden: 5),
      config: TrainConfig(
        batchMax: 8, batchMaxWaitMs: 30_000, learningRate: 3e-3, stepsPerBatch: 4,
        activationMinExamples: 16, evaluationWindow: 40))
  }

  /// `tensors` (format 3) rewritten in format 2: every scored logit and label of each domain
  /// (from `scored`) instead of the window, histogram and last-seen time.
  static func format2(
    _ tensors: [String: Tensor],
    scored: [String: (adapted: [Float], backbone: [Float], labels: [Float])]
  ) throws -> [String: Tensor] {
    var result = tensors.filter { name, _ in
      !["window_logits", "window_labels", "histogram", "last_seen_ms"].contains {
        name.hasSuffix($0)
      }
    }
    var header = try #require(tensors[".trainer/state"]).int64s()
    #expect(header[0] == 5)
    header[0] = 2
    result[".trainer/state"] = Tensor(int64s: header, shape: [3])
    // Before format 4, pending examples carried no serving score.
    for (name, tensor) in tensors where name.hasSuffix("/pending") {
      let bytes = Example.encoded(
        try Example.decoded(from: tensor.bytes, source: name), withScores: false)
      result[name] = Tensor(uint8s: bytes, shape: [bytes.count])
    }
    for (domain, scores) in scored {
      let labels = scores.labels.map { UInt8($0) }
      result[domain + "/evaluation.adapted.logits"] = Tensor(
        floats: scores.adapted, shape: [scores.adapted.count])
      result[domain + "/evaluation.backbone.logits"] = Tensor(
        floats: scores.backbone, shape: [scores.backbone.count])
      for model in ["adapted", "backbone"] {
        result[domain + "/evaluation.\(model).labels"] = Tensor(
          uint8s: labels, shape: [labels.count])
      }
    }
    return result
  }

  @Test func format2SnapshotsAreReadWithTheirLogitsTurnedIntoWindowAndHistogram() throws {
    let stream = TrainerTests.stream(count: 500, seed: 31)
    let live = try Self.makeShortWindowTrainer()
    var scored: [String: (adapted: [Float], backbone: [Float], labels: [Float])] = [:]
    for example in stream[..<401] {
      for report in live.process(example) {
        scored[report.domain, default: ([], [], [])].adapted += report.adaptedLogits
        scored[report.domain, default: ([], [], [])].backbone += report.backboneLogits
        scored[report.domain, default: ([], [], [])].labels += report.labels
      }
    }
    // Every domain has scored more than the window holds.
    #expect(scored.values.allSatisfy { $0.labels.count > 40 })
    let old = try Self.format2(live.stateTensors(), scored: scored)
    let bytes = SafeTensors(tensors: old).encoded()
    let restored = try Self.makeShortWindowTrainer()
    try restored.restore(stateTensors: try SafeTensors.decode(bytes).tensors)

    #expect(restored.domains == live.domains)
    for domain in live.domains {
      let evaluation = try #require(restored.evaluation(for: domain))
      #expect(evaluation == live.evaluation(for: domain))
      let scores = try #require(scored[domain])
      #expect(evaluation.adapted.count == scores.labels.count)
      #expect(evaluation.adapted.window.logits == Array(scores.adapted.suffix(40)))
      #expect(evaluation.backbone.window.logits == Array(scores.backbone.suffix(40)))
      // The cumulative AUC now comes from the histogram, within its bound of the exact one.
      let exact = try #require(AreaUnderCurve.exact(scores: scores.adapted, labels: scores.labels))
      let binned = try #require(evaluation.adapted.cumulativeAUC)
      #expect(
        abs(binned - exact) <= (try #require(evaluation.adapted.cumulativeAUCErrorBound)) + 1e-12)
      // Format 2 kept no last-seen time: the domain counts as seen at the newest event time.
      #expect(restored.lastSeenMs(of: domain) == live.eventTimeMs)
      #expect(restored.kernel(for: domain) == live.kernel(for: domain))
    }
    // It then goes on exactly as the trainer that never stopped, and writes format 4.
    for example in stream[401...] {
      #expect(restored.process(example) == live.process(example))
    }
    for domain in live.domains {
      #expect(restored.evaluation(for: domain) == live.evaluation(for: domain))
      #expect(restored.kernel(for: domain) == live.kernel(for: domain))
    }
    #expect(try restored.stateTensors()[".trainer/state"]?.int64s().first == 5)

    // Malformed format 2 evaluation tensors are refused by name.
    var badLabels = old
    badLabels["hot/evaluation.backbone.labels"] = Tensor(uint8s: [2], shape: [1])
    #expect(throws: LearnerError.self) { try restored.restore(stateTensors: badLabels) }
    var missing = old
    missing["cold/evaluation.adapted.logits"] = nil
    let error = #expect(throws: LearnerError.self) { try restored.restore(stateTensors: missing) }
    #expect(error.map { "\($0)".contains("cold/evaluation.adapted.logits") } == true)
  }

  @Test func currentFormatKeepsTheWindowHistogramAndLastSeenTime() throws {
    let trainer = try Self.makeShortWindowTrainer()
    for example in TrainerTests.stream(count: 300, seed: 32) { _ = trainer.process(example) }
    let tensors = trainer.stateTensors()
    let evaluation = try #require(trainer.evaluation(for: "hot"))
    #expect(try tensors[".trainer/state"]?.int64s().first == 5)
    #expect(
      try tensors["hot/evaluation.adapted.window_logits"]?.floats()
        == evaluation.adapted.window.logits)
    #expect(evaluation.adapted.window.logits.count == 40)
    let histogram = try #require(tensors["hot/evaluation.backbone.histogram"]).bytes
    #expect(histogram == evaluation.backbone.histogram.encoded)
    #expect(LogitHistogram(encoded: histogram) == evaluation.backbone.histogram)
    // "hot" takes examples 0, 1, 4, 5, ... (one second apart): its last is example 297.
    #expect(try tensors["hot/last_seen_ms"]?.int64s() == [297_000])
    #expect(trainer.lastSeenMs(of: "hot") == 297_000)
    // The evaluation tensors do not grow with the examples: 10 times more, same sizes at most.
    let longer = try Self.makeShortWindowTrainer()
    for example in TrainerTests.stream(count: 3_000, seed: 32) { _ = longer.process(example) }
    let longerTensors = longer.stateTensors()
    #expect(try longerTensors["hot/evaluation.adapted.window_logits"]?.floats().count == 40)
    #expect(
      try #require(longerTensors["hot/evaluation.adapted.histogram"]).bytes.count
        <= 22 * LogitHistogram.binCount)
  }
}

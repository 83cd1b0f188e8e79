import Foundation

extension LearnerBenchmark {
  /// Where one batch's time goes on a given model, for one batch size (`iak-stream bench steps`).
  public struct BatchCost: Sendable, Equatable {
    /// Rows per batch.
    public var batchSize: Int
    /// Optimiser steps per batch (`train.steps_per_batch`).
    public var stepsPerBatch: Int
    /// Microseconds of `prepare`: embedding, the frozen layers up to the insertion point and
    /// the backbone's own score.
    public var prepareMicroseconds: Double
    /// Microseconds of scoring the batch with the kernel (z = mu) and measuring the
    /// information proxies, as a closing batch does before its steps.
    public var scoreMicroseconds: Double
    /// Microseconds of one training step (sampled forward, backward, Adam).
    public var stepMicroseconds: Double
    /// Examples per second through the engine's per-batch work: prepare, score, proxies and
    /// `stepsPerBatch` steps.
    public var examplesPerSecond: Double
    /// Examples per second through `Trainer.process` on one domain whose batches close at
    /// `batchSize` examples (the per-batch work plus the trainer's bookkeeping and reports).
    public var trainerExamplesPerSecond: Double
  }

  /// Measures, for each batch size, the phases of one closing batch and the examples per second
  /// of the engine and of a `Trainer` on the model `backbone` + `kernel` with `train`'s steps
  /// per batch, optimiser and clipping, on one BLAS thread.
  ///
  /// - Throws: `LearnerError.invalidConfiguration` when the shapes or settings are unusable.
  public static func runBatchCosts(
    backbone backboneConfig: BackboneConfig, kernel kernelConfig: KernelConfig,
    train: TrainConfig, batchSizes: [Int] = [1, 4, 16, 64], seconds: Double = 1
  ) throws(LearnerError) -> [BatchCost] {
    BLASRuntime.useSingleThread()
    try kernelConfig.validate(for: backboneConfig)
    let backbone = try Backbone(config: backboneConfig, seed: 1)
    let optimizer = AdamOptimizer(train)
    let stage = KernelStage(optimizer: optimizer, clip: train.gradientClip)
    var random = NoiseGenerator(state: 42)
    let pool = (0..<4096).map { index in
      Example(
        domain: "bench",
        categorical: backboneConfig.fields.map { "\($0)\(random.nextInt(below: 5000))" },
        numeric: backboneConfig.numericFields.map { _ in Float(random.nextUniform()) },
        label: Float(index % 2), eventTimeMs: Int64(index))
    }
    var results: [BatchCost] = []
    for size in batchSizes {
      let engine = KernelEngine(backbone: backbone, config: kernelConfig, capacity: size)
      let batch = Array(pool.prefix(size))
      var state = DomainState(
        kernel: IAKKernel(domain: "bench", layout: engine.layout, seed: train.seed),
        batchMax: size, windowSize: train.evaluationWindow,
        proxies: InformationProxies(
          dimensions: kernelConfig.bottleneck, decay: Double(train.proxyDecay),
          activeUnitThreshold: Double(kernelConfig.activeUnitThreshold)))
      // Make the decoder non-zero so that every pass does its full work.
      for index in engine.layout.decoderWeight..<engine.layout.parameterCount {
        state.kernel.parameters[index] = Float(random.nextUniform() - 0.5) * 0.01
      }
      let rate = train.learningRate(forBatchOf: size)
      let prepares = measure(seconds: seconds / 4) { engine.prepare(batch) }
      let scores = measure(seconds: seconds / 4) {
        engine.score(with: &state.kernel)
        state.proxies.update(with: engine.measure())
      }
      let steps = measure(seconds: seconds / 4) {
        engine.trainStep(&state.kernel, rate: rate, optimizer: optimizer, clip: train.gradientClip)
      }
      let batches = measure(seconds: seconds / 2) {
        engine.prepare(batch)
        let delayedFraction = train.delayedFeedback.map {
          $0.delayedFraction(of: state.clickDelays)
        }
        _ = stage.train(
          on: batch, state: &state, engine: engine, rate: rate, steps: train.stepsPerBatch,
          delayedFraction: delayedFraction)
      }
      var trainConfig = train
      trainConfig.batchMax = size
      let trainer = try Trainer(backbone: backbone, kernelConfig: kernelConfig, config: trainConfig)
      var next = 0
      var eventTime: Int64 = 0
      let trainerBatches = measure(seconds: seconds / 2) {
        for _ in 0..<size {
          var example = pool[next]
          example.eventTimeMs = eventTime
          _ = trainer.process(example)
          next = (next + 1) % pool.count
          eventTime += 1
        }
      }
      results.append(
        BatchCost(
          batchSize: size, stepsPerBatch: train.stepsPerBatch,
          prepareMicroseconds: 1e6 / prepares, scoreMicroseconds: 1e6 / scores,
          stepMicroseconds: 1e6 / steps, examplesPerSecond: batches * Double(size),
          trainerExamplesPerSecond: trainerBatches * Double(size)))
    }
    return results
  }

  /// The batch costs as text lines, one per batch size, after a line naming the BLAS core and
  /// the model.
  public static func format(
    _ costs: [BatchCost], backbone: BackboneConfig, kernel: KernelConfig
  ) -> [String] {
    var lines = [
      "steps bench: OpenBLAS core \(BLASRuntime.coreName), 1 BLAS thread; model "
        + "\(backbone.fields.count) fields x \(backbone.embeddingDim) (\(backbone.buckets) buckets), "
        + "\(backbone.numericFields.count) numeric, hidden "
        + "\(backbone.hiddenSizes.map(String.init).joined(separator: ",")), kernel at "
        + "\(kernel.insertAt), bottleneck \(kernel.bottleneck), encoder hidden "
        + "\(kernel.encoderHidden)"
    ]
    for cost in costs {
      lines.append(
        "batch \(cost.batchSize): \(Int(cost.examplesPerSecond)) examples/s "
          + "(\(cost.stepsPerBatch) steps/batch), trainer \(Int(cost.trainerExamplesPerSecond)) "
          + "examples/s; prepare \(microseconds(cost.prepareMicroseconds)) µs, score+proxies "
          + "\(microseconds(cost.scoreMicroseconds)) µs, step "
          + "\(microseconds(cost.stepMicroseconds)) µs")
    }
    return lines
  }

  private static func microseconds(_ value: Double) -> String {
    String(format: value < 10 ? "%.2f" : "%.1f", value)
  }
}

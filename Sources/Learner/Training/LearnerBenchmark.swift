import Observability

/// The Learner's throughput benchmark (`iak-stream bench learner`).
///
/// For the default model (8 categorical fields, `BackboneConfig` and `KernelConfig` defaults) and
/// each batch size it measures the kernel training step (sampled forward through the kernel and
/// the frozen layers above it, backward, Adam) and the whole per-batch work of the trainer
/// (prepare, prequential scoring, `steps` training steps), and single-thread `sgemm` on square
/// matrices in the same run, as the yardstick.
public enum LearnerBenchmark {
  /// The figures for one batch size.
  public struct Result: Sendable, Equatable {
    /// Rows per batch.
    public var batchSize: Int
    /// Training steps per second.
    public var stepsPerSecond: Double
    /// Achieved GFLOP/s of the training step (2 flops per multiply-add of its matrix products).
    public var stepGigaflops: Double
    /// Examples per second through the trainer's per-batch work with `stepsPerBatch` steps.
    public var examplesPerSecond: Double
    /// Steps per batch used for `examplesPerSecond`.
    public var stepsPerBatch: Int
    /// Single-thread sgemm GFLOP/s measured in the same run.
    public var sgemmGigaflops: Double
    /// BLAS threads used for the training passes.
    public var threads: Int

    /// `stepGigaflops / sgemmGigaflops`.
    public var ratio: Double { sgemmGigaflops > 0 ? stepGigaflops / sgemmGigaflops : 0 }
  }

  /// The fields of the benchmark model (MovieLens-like).
  public static let fields = [
    "user", "item", "age", "gender", "occupation", "zip", "year", "genres",
  ]

  /// Runs the benchmark and returns one result per batch size.
  ///
  /// - Parameters:
  ///   - threads: BLAS threads for the training passes (the sgemm yardstick always uses one);
  ///     the Learner's default is 1, see `BLASRuntime`.
  ///   - seconds: minimum measuring time per figure.
  public static func run(
    batchSizes: [Int] = [32, 128, 512], stepsPerBatch: Int = TrainConfig().stepsPerBatch,
    threads: Int = 1, seconds: Double = 1
  ) throws(LearnerError) -> [Result] {
    BLASRuntime.useSingleThread()
    defer { BLASRuntime.useSingleThread() }
    let backbone = try Backbone(config: BackboneConfig(fields: fields), seed: 1)
    let kernelConfig = KernelConfig()
    let sgemm = measureSgemm(size: 1024, seconds: seconds)
    BLASRuntime.setThreadCount(threads)
    var results: [Result] = []
    for size in batchSizes {
      let engine = KernelEngine(backbone: backbone, config: kernelConfig, capacity: size)
      var random = NoiseGenerator(state: 42)
      let batch = (0..<size).map { index in
        Example(
          domain: "bench", categorical: fields.map { "\($0)\(random.nextInt(below: 5000))" },
          label: Float(index % 2), eventTimeMs: 0)
      }
      var kernel = IAKKernel(
        domain: "bench", backbone: backbone.config, config: kernelConfig, seed: 1)
      // Make the decoder non-zero so the step does its full work.
      for index in kernel.layout.decoderWeight..<kernel.layout.parameterCount {
        kernel.parameters[index] = Float(random.nextUniform() - 0.5) * 0.01
      }
      let optimizer = AdamOptimizer()
      engine.prepare(batch)
      let steps = measure(seconds: seconds) {
        engine.trainStep(&kernel, rate: 1e-4, optimizer: optimizer, clip: 5)
      }
      let flops = 2.0 * Double(engine.trainingStepMultiplyAdds) * Double(size)
      let batches = measure(seconds: seconds) {
        engine.prepare(batch)
        engine.score(with: &kernel)
        for _ in 0..<stepsPerBatch {
          engine.trainStep(&kernel, rate: 1e-4, optimizer: optimizer, clip: 5)
        }
      }
      results.append(
        Result(
          batchSize: size, stepsPerSecond: steps, stepGigaflops: steps * flops / 1e9,
          examplesPerSecond: batches * Double(size), stepsPerBatch: stepsPerBatch,
          sgemmGigaflops: sgemm, threads: threads))
    }
    return results
  }

  /// Impressions per second scored at serving time (`Trainer.servingScore(for:)`: the backbone
  /// and a trained kernel on one row, all on one thread; `serve` runs the backbone's part on its
  /// consumer thread, many impressions at a time, and only the kernel's on the training
  /// thread), on the same model, with one BLAS thread.
  public static func servingScoresPerSecond(seconds: Double = 1) throws(LearnerError) -> Double {
    BLASRuntime.useSingleThread()
    let backbone = try Backbone(config: BackboneConfig(fields: fields), seed: 1)
    let trainer = try Trainer(
      backbone: backbone, kernelConfig: KernelConfig(), config: TrainConfig())
    var random = NoiseGenerator(state: 7)
    let examples = (0..<256).map { index in
      Example(
        domain: "bench", categorical: fields.map { "\($0)\(random.nextInt(below: 5000))" },
        label: Float(index % 2), eventTimeMs: Int64(index))
    }
    for example in examples { _ = trainer.process(example) }
    var next = 0
    return measure(seconds: seconds) {
      _ = trainer.servingScore(for: examples[next])
      next = (next + 1) % examples.count
    }
  }

  /// Examples per second through a trainer on `threads` training threads when the batches of
  /// `domains` domains, `batchSize` examples each, all close together (time-outs of one lane,
  /// the case `train.threads` trains at once), on the default model with one BLAS thread and the
  /// default steps per batch. The time includes adding the examples.
  public static func closingTogetherExamplesPerSecond(
    threads: Int, domains: Int = 64, batchSize: Int = 32, seconds: Double = 1
  ) throws(LearnerError) -> Double {
    BLASRuntime.useSingleThread()
    let backbone = try Backbone(config: BackboneConfig(fields: fields), seed: 1)
    let trainer = try Trainer(
      backbone: backbone, kernelConfig: KernelConfig(),
      config: TrainConfig(batchMax: batchSize + 1, batchMaxWaitMs: 1_000, threads: threads))
    var random = NoiseGenerator(state: 9)
    var examples = (0..<(domains * batchSize)).map { index in
      Example(
        domain: "d\(index % domains)",
        categorical: fields.map { "\($0)\(random.nextInt(below: 5000))" },
        label: Float(index % 2), eventTimeMs: 0)
    }
    var time: Int64 = 0
    let rounds = measure(seconds: seconds) {
      for index in examples.indices {
        examples[index].eventTimeMs = time
        _ = trainer.process(examples[index])
      }
      time += 1_000
      _ = trainer.advanceEventTime(to: time)
    }
    return rounds * Double(examples.count)
  }

  /// The results as text lines, one per batch size, with the BLAS core used.
  public static func format(_ results: [Result]) -> [String] {
    var lines = [
      "learner bench: OpenBLAS core \(BLASRuntime.coreName), "
        + "\(results.first?.threads ?? 1) BLAS thread(s) for training, 1 for sgemm"
    ]
    for result in results {
      lines.append(
        "batch \(result.batchSize): \(Int(result.examplesPerSecond)) examples/s "
          + "(\(result.stepsPerBatch) steps/batch), step \(rounded(result.stepGigaflops)) GFLOP/s, "
          + "sgemm \(rounded(result.sgemmGigaflops)) GFLOP/s, ratio "
          + "\(rounded(result.ratio * 100))%")
    }
    return lines
  }

  private static func rounded(_ value: Double) -> String {
    let scaled = (value * 10).rounded() / 10
    return "\(scaled)"
  }

  /// Calls `body` repeatedly for at least `seconds` after a warm-up; returns calls per second.
  static func measure(seconds: Double, _ body: () -> Void) -> Double {
    for _ in 0..<3 { body() }
    let clock = ContinuousClock()
    let start = clock.now
    var calls = 0
    var elapsed = 0.0
    repeat {
      body()
      calls += 1
      elapsed = (clock.now - start).inSeconds
    } while elapsed < seconds
    return Double(calls) / elapsed
  }

  /// Single-thread GFLOP/s of `size x size x size` sgemm.
  static func measureSgemm(size: Int, seconds: Double) -> Double {
    let a = [Float](repeating: 0.5, count: size * size)
    let b = [Float](repeating: 0.25, count: size * size)
    var c = [Float](repeating: 0, count: size * size)
    let rate = c.withUnsafeMutableBufferPointer { output in
      measure(seconds: seconds) {
        BLAS.multiply(m: size, n: size, k: size, a, b, into: output.baseAddress!)
      }
    }
    return rate * 2 * Double(size * size * size) / 1e9
  }
}

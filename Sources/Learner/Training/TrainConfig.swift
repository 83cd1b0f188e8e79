/// How kernels are trained while streaming (`train.*` keys).
///
/// The figures that first chose these defaults were measured at training time (each example
/// scored when its batch closed, after the label wait, by a kernel that had already learned from
/// the same session's earlier labels) and flattered small batches with many steps; they are
/// withdrawn. The shipped defaults (`pipeline.conf`, `ConfigSchema`) come from the serving-time
/// sweep of `make experiment` (docs/experiments.md), where each impression is scored when it
/// arrives. The values here are the library's own defaults for callers without a configuration.
public struct TrainConfig: Sendable, Equatable {
  /// A domain's batch closes when it holds this many examples (`train.batch_max`); default 16.
  public var batchMax: Int
  /// ...or when its oldest example is this much event time older than the newest event seen,
  /// in milliseconds (`train.batch_max_wait`); default 600000 (10 minutes).
  public var batchMaxWaitMs: Int64
  /// Adam learning rate for a full batch of `batchMax` (`train.learning_rate`); default 2e-4.
  public var learningRate: Float
  /// Adam steps taken on each batch, all after it was scored (`train.steps_per_batch`);
  /// default 8.
  public var stepsPerBatch: Int
  /// Seed of every kernel's initialisation and noise, mixed with the domain name
  /// (`train.seed`); default 1.
  public var seed: UInt64
  /// How the learning rate follows the real size of a batch (`train.lr_scaling`);
  /// default `.squareRoot`.
  public var learningRateScaling: LearningRateScaling
  /// Largest global gradient norm before an update is scaled down, 0 = no clipping
  /// (`train.gradient_clip`); default 5.
  public var gradientClip: Float
  /// Adam's first-moment decay (`train.adam_beta1`); default 0.9.
  public var adamBeta1: Float
  /// Adam's second-moment decay (`train.adam_beta2`); default 0.999.
  public var adamBeta2: Float
  /// Adam's denominator epsilon (`train.adam_epsilon`); default 1e-8.
  public var adamEpsilon: Float
  /// What is trained per domain (`train.mode`); default `.kernel`.
  public var mode: AdaptationMode
  /// A domain's kernel serves only after it has trained on this many examples
  /// (`domain.min_examples`); default 100.
  public var activationMinExamples: Int
  /// Examples in the sliding window of the prequential AUC (`train.eval_window`); default 10000.
  public var evaluationWindow: Int
  /// Weight of the newest batch in the exponentially weighted information proxies
  /// (`train.proxy_decay`); default 0.05.
  public var proxyDecay: Float
  /// The importance weighting of a delayed-feedback mode (`label.mode = fake_negative | es_dfm`,
  /// its window `label.window`); nil (`label.mode = wait`) trains on final labels unweighted.
  /// Only `.kernel` mode supports one.
  public var delayedFeedback: DelayedFeedback?
  /// Threads that train the batches closed together (`train.threads`); default 1. Batches of
  /// different domains are independent, so with more than one thread they train at once, each
  /// on its own engine, and every kernel and report stays bit-identical to one thread's. The
  /// `.fullFineTuning` mode tunes one backbone shared by every domain and always trains on one
  /// thread (`effectiveThreads`).
  public var threads: Int
  /// Impressions whose frozen layers' output the trainer keeps from their serving score for
  /// their batch (`train.frozen_rows`), 0 to keep none; default 65536. A batch copies the rows
  /// it finds instead of running the frozen layers again, and computes the others: kernels are
  /// the same bits either way (`FrozenRows`). A row stays until this many impressions were
  /// scored after it, so it is found when its label closes a batch sooner than that. Each row
  /// holds the representation's width plus 2 floats (about 16.5 MiB at 65536 and width 64).
  public var frozenRows: Int

  /// Creates a configuration; see each property for its default.
  public init(
    batchMax: Int = 16, batchMaxWaitMs: Int64 = 600_000, learningRate: Float = 2e-4,
    stepsPerBatch: Int = 8, seed: UInt64 = 1,
    learningRateScaling: LearningRateScaling = .squareRoot, gradientClip: Float = 5,
    adamBeta1: Float = 0.9, adamBeta2: Float = 0.999, adamEpsilon: Float = 1e-8,
    mode: AdaptationMode = .kernel, activationMinExamples: Int = 100,
    evaluationWindow: Int = 10_000, proxyDecay: Float = 0.05,
    delayedFeedback: DelayedFeedback? = nil, threads: Int = 1, frozenRows: Int = 65_536
  ) {
    self.batchMax = batchMax
    self.batchMaxWaitMs = batchMaxWaitMs
    self.learningRate = learningRate
    self.stepsPerBatch = stepsPerBatch
    self.seed = seed
    self.learningRateScaling = learningRateScaling
    self.gradientClip = gradientClip
    self.adamBeta1 = adamBeta1
    self.adamBeta2 = adamBeta2
    self.adamEpsilon = adamEpsilon
    self.mode = mode
    self.activationMinExamples = activationMinExamples
    self.evaluationWindow = evaluationWindow
    self.proxyDecay = proxyDecay
    self.delayedFeedback = delayedFeedback
    self.threads = threads
    self.frozenRows = frozenRows
  }

  /// Checks that every setting is in range.
  ///
  /// - Throws: `LearnerError.invalidConfiguration` naming the offending setting.
  public func validate() throws(LearnerError) {
    if batchMax < 1 { throw .invalidConfiguration("train.batch_max = \(batchMax): must be >= 1") }
    if batchMaxWaitMs < 0 {
      throw .invalidConfiguration("train.batch_max_wait = \(batchMaxWaitMs) ms: must be >= 0")
    }
    if !(learningRate > 0) {
      throw .invalidConfiguration("train.learning_rate = \(learningRate): must be > 0")
    }
    if stepsPerBatch < 0 {
      throw .invalidConfiguration("train.steps_per_batch = \(stepsPerBatch): must be >= 0")
    }
    if !(gradientClip >= 0) {
      throw .invalidConfiguration("train.gradient_clip = \(gradientClip): must be >= 0")
    }
    if evaluationWindow < 1 {
      throw .invalidConfiguration("train.auc_window = \(evaluationWindow): must be >= 1")
    }
    if !(proxyDecay > 0 && proxyDecay <= 1) {
      throw .invalidConfiguration("train.proxy_decay = \(proxyDecay): must be in (0, 1]")
    }
    if delayedFeedback != nil && mode != .kernel {
      throw .invalidConfiguration(
        "label.mode = fake_negative or es_dfm weighs the kernel's loss: it needs "
          + "train.mode = kernel, not \(mode.rawValue)")
    }
    if threads < 1 { throw .invalidConfiguration("train.threads = \(threads): must be >= 1") }
    if frozenRows < 0 {
      throw .invalidConfiguration("train.frozen_rows = \(frozenRows): must be >= 0")
    }
  }

  /// The threads that train batches: `threads`, except in `.fullFineTuning` mode, whose one
  /// tuned backbone every domain's batch updates in turn (one thread).
  public var effectiveThreads: Int { mode == .fullFineTuning ? 1 : threads }

  /// The learning rate for a batch of `size` examples under `learningRateScaling`.
  public func learningRate(forBatchOf size: Int) -> Float {
    learningRateScaling.scale(learningRate, batchSize: size, referenceSize: batchMax)
  }
}

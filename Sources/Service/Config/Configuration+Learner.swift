import Foundation
import Learner

extension Configuration {
  /// The backbone's shape from `backbone.*` and `event.numeric_fields`.
  ///
  /// - Throws: `ConfigError` for a shape the settings cannot give; none can today, since
  ///   `backbone.hidden` is checked when it is set.
  public func backboneConfig() throws(ConfigError) -> BackboneConfig {
    let backbone = settings.backbone
    return BackboneConfig(
      fields: backbone.fields, numericFields: settings.event.numericFields,
      buckets: backbone.buckets, embeddingDim: backbone.embeddingDim,
      hiddenSizes: backbone.hidden, hashSeed: UInt64(backbone.hashSeed))
  }

  /// Pretraining settings from `backbone.*`.
  public var pretrainConfig: PretrainConfig {
    let backbone = settings.backbone
    return PretrainConfig(
      epochs: backbone.epochs, learningRate: Float(backbone.learningRate),
      batchSize: backbone.batchSize, seed: UInt64(backbone.seed),
      validationFraction: backbone.validationFraction,
      embeddingL2: Float(backbone.embeddingL2), refit: backbone.refit)
  }

  /// The kernel's shape and loss from `iak.*`.
  ///
  /// `iak.insert_at = last` is the last hidden layer of `backbone.hidden` (`hidden2` for
  /// `128, 64`), so the default suits any depth of tower.
  ///
  /// - Throws: `ConfigError` for a kernel the settings cannot give; none can today, since
  ///   `iak.insert_at` is checked when it is set.
  public func kernelConfig() throws(ConfigError) -> KernelConfig {
    let iak = settings.iak
    return KernelConfig(
      insertAt: iak.insertAt.point(hiddenLayers: settings.backbone.hidden.count),
      bottleneck: iak.bottleneck, encoderHidden: iak.encoderHidden, beta: Float(iak.beta),
      betaWarmupSteps: iak.betaWarmupSteps,
      activeUnitThreshold: Float(iak.activeUnitThreshold))
  }

  /// Streaming training settings from `train.*` and `domain.min_examples`.
  public var trainConfig: TrainConfig {
    let train = settings.train
    return TrainConfig(
      batchMax: train.batchMax, batchMaxWaitMs: train.batchMaxWait.wholeMilliseconds,
      learningRate: Float(train.learningRate),
      stepsPerBatch: train.stepsPerBatch, seed: UInt64(train.seed),
      learningRateScaling: train.learningRateScaling,
      gradientClip: Float(train.gradientClip),
      mode: train.mode,
      activationMinExamples: settings.domain.minExamples,
      evaluationWindow: train.aucWindow, proxyDecay: Float(train.proxyDecay),
      delayedFeedback: joinerConfiguration.isBiased
        ? DelayedFeedback(windowMs: joinerConfiguration.observationWindowMilliseconds) : nil,
      threads: trainingThreads, frozenRows: train.frozenRows)
  }

  /// The threads that train batches (`train.threads`; 0 means the cores left after the consumer
  /// thread, processor count - 1, at least 1), before `TrainConfig.effectiveThreads` keeps
  /// `full_fine_tuning` to one.
  public var trainingThreads: Int {
    let threads = settings.train.threads
    return threads > 0 ? threads : max(1, ProcessInfo.processInfo.activeProcessorCount - 1)
  }

  /// The OpenBLAS threads per call: `train.blas_threads`, or 1 when batches train on more than
  /// one thread. OpenBLAS's thread count is one setting for the whole process, and its pool of
  /// BLAS threads serves one call at a time, so concurrent training threads would queue for it;
  /// the batches are small, and the parallelism comes from the domains instead.
  public var blasThreads: Int {
    trainConfig.effectiveThreads > 1 ? 1 : settings.train.blasThreads
  }

  /// Drift detector settings from `drift.*`.
  public var driftSettings: DriftSettings {
    let drift = settings.drift
    return DriftSettings(
      warmupSteps: drift.warmupSteps, collapseSteps: drift.collapseSteps,
      decoderNormThreshold: drift.decoderNormThreshold,
      muVarianceThreshold: drift.muVarianceThreshold,
      harmWindow: drift.harmWindow,
      guardSettings: ServingGuard.Settings(
        minExamples: drift.guardMinExamples,
        minPerClass: drift.guardMinPerClass,
        checkEvery: drift.guardCheckEvery, aucMargin: drift.guardAUCMargin,
        logLossMargin: drift.guardLogLossMargin, onZ: drift.guardOnZ,
        offZ: drift.guardOffZ, confirmZ: drift.guardConfirmZ),
      klRunaway: drift.klRunaway, pageHinkleyDelta: drift.pageHinkleyDelta,
      pageHinkleyLambda: drift.pageHinkleyLambda)
  }
}

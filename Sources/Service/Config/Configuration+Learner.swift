import Learner

extension Configuration {
  /// The backbone's shape from `backbone.*` and `event.numeric_fields`.
  ///
  /// - Throws: `ConfigError` when `backbone.hidden` is not a list of positive widths.
  public func backboneConfig() throws(ConfigError) -> BackboneConfig {
    var hidden: [Int] = []
    for text in list("backbone.hidden") {
      guard let width = Int(text), width > 0 else {
        throw ConfigError(
          location: origins["backbone.hidden"] ?? "backbone.hidden",
          message: "'backbone.hidden' expects positive widths such as '128, 64', got '\(text)'")
      }
      hidden.append(width)
    }
    return BackboneConfig(
      fields: list("backbone.fields"), numericFields: list("event.numeric_fields"),
      buckets: int("backbone.buckets"), embeddingDim: int("backbone.embedding_dim"),
      hiddenSizes: hidden, hashSeed: UInt64(int("backbone.hash_seed")))
  }

  /// Pretraining settings from `backbone.*`.
  public var pretrainConfig: PretrainConfig {
    PretrainConfig(
      epochs: int("backbone.epochs"), learningRate: Float(double("backbone.learning_rate")),
      batchSize: int("backbone.batch_size"), seed: UInt64(int("backbone.seed")),
      validationFraction: double("backbone.validation_fraction"),
      embeddingL2: Float(double("backbone.embedding_l2")), refit: bool("backbone.refit"))
  }

  /// The kernel's shape and loss from `iak.*`.
  ///
  /// `iak.insert_at = last` is the last hidden layer of `backbone.hidden` (`hidden2` for
  /// `128, 64`), so the default suits any depth of tower.
  ///
  /// - Throws: `ConfigError` when `iak.insert_at` names no layer.
  public func kernelConfig() throws(ConfigError) -> KernelConfig {
    let name = string("iak.insert_at")
    let layers = list("backbone.hidden").count
    let insertAt =
      name == "last" ? (layers > 0 ? .hidden(layers) : .embedding) : InsertionPoint(name: name)
    guard let insertAt else {
      throw ConfigError(
        location: origins["iak.insert_at"] ?? "iak.insert_at",
        message: "'iak.insert_at' expects 'embedding', 'hidden1'..'hiddenL' or 'last', got "
          + "'\(name)'")
    }
    return KernelConfig(
      insertAt: insertAt, bottleneck: int("iak.bottleneck"),
      encoderHidden: int("iak.encoder_hidden"), beta: Float(double("iak.beta")),
      betaWarmupSteps: int("iak.beta_warmup_steps"),
      activeUnitThreshold: Float(double("iak.active_unit_threshold")))
  }

  /// Streaming training settings from `train.*` and `domain.min_examples`.
  public var trainConfig: TrainConfig {
    TrainConfig(
      batchMax: int("train.batch_max"), batchMaxWaitMs: milliseconds("train.batch_max_wait"),
      learningRate: Float(double("train.learning_rate")),
      stepsPerBatch: int("train.steps_per_batch"), seed: UInt64(int("train.seed")),
      learningRateScaling: LearningRateScaling(rawValue: string("train.lr_scaling"))!,
      gradientClip: Float(double("train.gradient_clip")),
      mode: AdaptationMode(rawValue: string("train.mode"))!,
      activationMinExamples: int("domain.min_examples"),
      evaluationWindow: int("train.auc_window"), proxyDecay: Float(double("train.proxy_decay")))
  }

  /// Drift detector settings from `drift.*`.
  public var driftSettings: DriftSettings {
    DriftSettings(
      warmupSteps: int("drift.warmup_steps"), collapseSteps: int("drift.collapse_steps"),
      decoderNormThreshold: double("drift.decoder_norm_threshold"),
      muVarianceThreshold: double("drift.mu_variance_threshold"),
      harmWindow: int("drift.harm_window"),
      guardSettings: ServingGuard.Settings(
        minExamples: int("drift.guard_min_examples"),
        minPerClass: int("drift.guard_min_per_class"),
        checkEvery: int("drift.guard_check_every"), aucMargin: double("drift.guard_auc_margin"),
        logLossMargin: double("drift.guard_logloss_margin"), onZ: double("drift.guard_on_z"),
        offZ: double("drift.guard_off_z"), confirmZ: double("drift.guard_confirm_z")),
      klRunaway: double("drift.kl_runaway"), pageHinkleyDelta: double("drift.ph_delta"),
      pageHinkleyLambda: double("drift.ph_lambda"))
  }
}

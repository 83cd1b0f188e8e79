import Foundation
import Observability

/// Progress of a pretraining run, reported often enough for a rate and an ETA.
public struct PretrainProgress: Sendable, Equatable {
  /// Whether this is the refit on every example (else the run that chooses the epochs).
  public var isRefit: Bool
  /// Current epoch, 1-based.
  public var epoch: Int
  /// Total epochs of this phase.
  public var epochs: Int
  /// Training examples processed so far in this phase, over all its epochs.
  public var examplesDone: Int
  /// Training examples to process in this phase (epochs x its training examples).
  public var examplesTotal: Int
  /// Mean training cross-entropy of the current epoch so far, in nats.
  public var epochLoss: Double
  /// Validation AUC after the last finished epoch, if any.
  public var validationAUC: Double?
}

/// The outcome of a pretraining run.
public struct PretrainReport: Sendable, Equatable {
  /// Examples the returned backbone was trained on (per epoch): every example when it was
  /// refitted, else those before the held-out tail.
  public var trainingExamples: Int
  /// Examples held out for validation (the tail of the input) while choosing the epochs.
  public var validationExamples: Int
  /// Epochs the returned backbone was trained for: the best of 1...`PretrainConfig.epochs` on
  /// the held-out tail (by AUC, then log loss), or all of them without a tail.
  public var chosenEpochs: Int
  /// Whether the returned backbone was trained again from scratch on every example, for
  /// `chosenEpochs` (`PretrainConfig.refit` with a non-empty tail).
  public var isRefitted: Bool
  /// Mean training cross-entropy of the returned backbone's last epoch, in nats.
  public var finalTrainingLoss: Double
  /// AUC on the held-out tail after `chosenEpochs` of the run without it (an honest estimate:
  /// the refitted backbone has seen the tail), nil when it lacks a class or is empty.
  public var validationAUC: Double?
  /// Mean cross-entropy on the held-out tail, likewise, in nats; nil when it is empty.
  public var validationLogLoss: Double?
  /// Per epoch, the validation AUC.
  public var validationAUCByEpoch: [Double?]
  /// Per epoch, the validation log loss.
  public var validationLogLossByEpoch: [Double?]
}

/// Trains a backbone's every parameter from labelled examples (`iak-stream pretrain`).
public enum Pretrainer {
  /// Trains a fresh backbone shaped by `backbone` on `examples` and reports its quality on the
  /// held-out tail.
  ///
  /// The last `validationFraction` of `examples` (the most recent, when they are in time order)
  /// is held out while a first run trains on the rest for `config.epochs` epochs, evaluating the
  /// tail after each; the best epoch count (validation AUC, then log loss) is kept. With
  /// `config.refit` (the default) a fresh backbone is then trained on every example, tail
  /// included, for that many epochs: the most recent history is what matters most to a stream
  /// that starts where it ends. Each run shuffles with `config.seed` every epoch and feeds
  /// batches of `config.batchSize` to Adam; numeric fields are normalised with its training
  /// part's mean and standard deviation and the output bias starts at its click rate's log-odds.
  ///
  /// - Throws: `LearnerError.invalidConfiguration` for unusable settings or no training example.
  public static func train(
    examples: [Example], backbone backboneConfig: BackboneConfig, config: PretrainConfig,
    logger: Logger = .disabled, progress: (PretrainProgress) -> Void = { _ in }
  ) throws(LearnerError) -> (backbone: Backbone, report: PretrainReport) {
    try config.validate()
    let validationCount = Int(Double(examples.count) * config.validationFraction)
    let trainingCount = examples.count - validationCount
    if trainingCount < 1 {
      throw .invalidConfiguration(
        "pretrain: \(examples.count) examples leave none for training after holding out "
          + "\(validationCount); give more examples or lower backbone.validation_fraction")
    }
    let validation = Array(examples[trainingCount...])
    let chosen = try fit(
      examples[0..<trainingCount], epochs: config.epochs, validation: validation,
      backbone: backboneConfig, config: config, isRefit: false, logger: logger,
      progress: progress)
    var aucs: [Double?] = []
    var losses: [Double?] = []
    for figures in chosen.byEpoch {
      aucs.append(figures.auc)
      losses.append(figures.logLoss)
    }
    // The best epoch: highest validation AUC, then lowest log loss, then fewest epochs.
    var best = config.epochs
    if !validation.isEmpty {
      best = 1
      for epoch in 1...config.epochs {
        let candidate = (aucs[epoch - 1] ?? -1, -(losses[epoch - 1] ?? .infinity))
        let current = (aucs[best - 1] ?? -1, -(losses[best - 1] ?? .infinity))
        if candidate > current { best = epoch }
      }
    }
    var report = PretrainReport(
      trainingExamples: trainingCount, validationExamples: validation.count, chosenEpochs: best,
      isRefitted: false, finalTrainingLoss: chosen.lossByEpoch[best - 1],
      validationAUC: aucs[best - 1], validationLogLoss: losses[best - 1],
      validationAUCByEpoch: aucs, validationLogLossByEpoch: losses)
    guard config.refit, !validation.isEmpty else {
      if best == config.epochs { return (chosen.backbone, report) }
      // Without a refit the backbone of the best epoch is needed: train again to it.
      let again = try fit(
        examples[0..<trainingCount], epochs: best, validation: [], backbone: backboneConfig,
        config: config, isRefit: true, logger: logger, progress: progress)
      return (again.backbone, report)
    }
    let refitted = try fit(
      examples[...], epochs: best, validation: [], backbone: backboneConfig, config: config,
      isRefit: true, logger: logger, progress: progress)
    report.trainingExamples = examples.count
    report.isRefitted = true
    report.finalTrainingLoss = refitted.lossByEpoch.last ?? 0
    logger.info(
      "pretrain refitted on every example",
      ["epochs": "\(best)", "examples": "\(examples.count)"])
    return (refitted.backbone, report)
  }

  /// One run: a fresh backbone trained on `training` for `epochs`, evaluated on `validation`
  /// after each epoch.
  private static func fit(
    _ training: ArraySlice<Example>, epochs: Int, validation: [Example],
    backbone backboneConfig: BackboneConfig, config: PretrainConfig, isRefit: Bool,
    logger: Logger, progress: (PretrainProgress) -> Void
  ) throws(LearnerError) -> (
    backbone: Backbone, byEpoch: [(auc: Double?, logLoss: Double?)], lossByEpoch: [Double]
  ) {
    var backbone = try Backbone(config: backboneConfig, seed: config.seed)
    let trainingCount = training.count
    normaliseNumerics(&backbone, on: training)
    let clickRate = training.reduce(0.0) { $0 + ($1.label >= 0.5 ? 1 : 0) } / Double(trainingCount)
    let clamped = min(max(clickRate, 1e-4), 1 - 1e-4)
    let output = backbone.layers[backbone.layers.count - 1]
    backbone.dense[output.biasOffset] = Float(log(clamped / (1 - clamped)))

    let trainer = BackboneTrainer(
      backbone: backbone, capacity: config.batchSize, optimizer: AdamOptimizer(),
      embeddingL2: config.embeddingL2)
    var order = Array(training.indices)
    var random = NoiseGenerator(state: config.seed ^ 0x7368_7566_666c_65)
    var batch: [Example] = []
    batch.reserveCapacity(config.batchSize)
    var done = 0
    var byEpoch: [(auc: Double?, logLoss: Double?)] = []
    var lossByEpoch: [Double] = []
    let total = trainingCount * epochs
    for epoch in 1...epochs {
      for index in stride(from: order.count - 1, to: 0, by: -1) {
        order.swapAt(index, random.nextInt(below: index + 1))
      }
      var lossSum = 0.0
      var batches = 0
      var start = 0
      while start < trainingCount {
        let end = min(start + config.batchSize, trainingCount)
        batch.removeAll(keepingCapacity: true)
        for position in start..<end { batch.append(training[order[position]]) }
        let loss = trainer.trainStep(&backbone, on: batch, rate: config.learningRate)
        lossSum += Double(loss) * Double(end - start)
        done += end - start
        batches += 1
        if batches % 20 == 0 || end == trainingCount {
          progress(
            PretrainProgress(
              isRefit: isRefit, epoch: epoch, epochs: epochs, examplesDone: done,
              examplesTotal: total, epochLoss: lossSum / Double(end),
              validationAUC: byEpoch.last?.auc))
        }
        start = end
      }
      lossByEpoch.append(lossSum / Double(trainingCount))
      let (auc, logLoss) = evaluate(backbone, on: validation)
      byEpoch.append((auc, logLoss))
      logger.info(
        isRefit ? "pretrain refit epoch finished" : "pretrain epoch finished",
        [
          "epoch": "\(epoch)", "training_loss": Logger.figure(lossByEpoch.last!),
          "validation_auc": auc.map(Logger.figure) ?? "n/a",
          "validation_logloss": logLoss.map(Logger.figure) ?? "n/a",
        ])
    }
    return (backbone, byEpoch, lossByEpoch)
  }

  /// AUC and mean cross-entropy of `backbone` on `examples`.
  public static func evaluate(_ backbone: Backbone, on examples: [Example]) -> (
    auc: Double?, logLoss: Double?
  ) {
    if examples.isEmpty { return (nil, nil) }
    let probabilities = backbone.probabilities(for: examples)
    var loss = 0.0
    for (probability, example) in zip(probabilities, examples) {
      let p = Double(min(max(probability, 1e-7), 1 - 1e-7))
      loss -= example.label >= 0.5 ? log(p) : log(1 - p)
    }
    let auc = AreaUnderCurve.exact(scores: probabilities, labels: examples.map(\.label))
    return (auc, loss / Double(examples.count))
  }

  /// Sets the backbone's numeric normalisation to the mean and standard deviation of the
  /// finite values in `examples`.
  static func normaliseNumerics(_ backbone: inout Backbone, on examples: ArraySlice<Example>) {
    for field in 0..<backbone.config.numericFields.count {
      var count = 0.0
      var sum = 0.0
      var squares = 0.0
      for example in examples where field < example.numeric.count {
        let value = Double(example.numeric[field])
        if !value.isFinite { continue }
        count += 1
        sum += value
        squares += value * value
      }
      let mean = count > 0 ? sum / count : 0
      let deviation = count > 0 ? max(0, squares / count - mean * mean).squareRoot() : 1
      backbone.numericMean[field] = Float(mean)
      backbone.numericScale[field] = Float(deviation > 1e-12 ? 1 / deviation : 1)
    }
  }
}

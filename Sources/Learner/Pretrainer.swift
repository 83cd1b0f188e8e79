import Foundation
import Observability

/// Progress of a pretraining run, reported often enough for a rate and an ETA.
public struct PretrainProgress: Sendable, Equatable {
  /// Current epoch, 1-based.
  public var epoch: Int
  /// Total epochs.
  public var epochs: Int
  /// Training examples processed so far, over all epochs.
  public var examplesDone: Int
  /// Training examples to process in total (epochs x training examples).
  public var examplesTotal: Int
  /// Mean training cross-entropy of the current epoch so far, in nats.
  public var epochLoss: Double
  /// Validation AUC after the last finished epoch, if any.
  public var validationAUC: Double?
}

/// The outcome of a pretraining run.
public struct PretrainReport: Sendable, Equatable {
  /// Examples trained on (per epoch).
  public var trainingExamples: Int
  /// Examples held out for validation (the tail of the input).
  public var validationExamples: Int
  /// Mean training cross-entropy of the last epoch, in nats.
  public var finalTrainingLoss: Double
  /// AUC on the held-out tail, nil when it lacks a class or is empty.
  public var validationAUC: Double?
  /// Mean cross-entropy on the held-out tail, in nats; nil when it is empty.
  public var validationLogLoss: Double?
  /// Per epoch, the validation AUC.
  public var validationAUCByEpoch: [Double?]
}

/// Trains a backbone's every parameter from labelled examples (`iak-stream pretrain`).
public enum Pretrainer {
  /// Trains a fresh backbone shaped by `backbone` on `examples` and reports its quality on the
  /// held-out tail.
  ///
  /// The last `validationFraction` of `examples` (the most recent, when they are in time order)
  /// is held out; the rest is shuffled with `config.seed` every epoch and fed in batches of
  /// `config.batchSize` to Adam. Numeric fields are normalised with the training part's mean and
  /// standard deviation; the output bias starts at the training click rate's log-odds.
  ///
  /// - Throws: `LearnerError.invalidConfiguration` for unusable settings or no training example.
  public static func train(
    examples: [Example], backbone backboneConfig: BackboneConfig, config: PretrainConfig,
    logger: Logger = .disabled, progress: (PretrainProgress) -> Void = { _ in }
  ) throws(LearnerError) -> (backbone: Backbone, report: PretrainReport) {
    try config.validate()
    var backbone = try Backbone(config: backboneConfig, seed: config.seed)
    let validationCount = Int(Double(examples.count) * config.validationFraction)
    let trainingCount = examples.count - validationCount
    if trainingCount < 1 {
      throw .invalidConfiguration(
        "pretrain: \(examples.count) examples leave none for training after holding out "
          + "\(validationCount); give more examples or lower pretrain.validation_fraction")
    }
    let training = examples[0..<trainingCount]
    let validation = Array(examples[trainingCount...])
    normaliseNumerics(&backbone, on: training)
    let clickRate = training.reduce(0.0) { $0 + ($1.label >= 0.5 ? 1 : 0) } / Double(trainingCount)
    let clamped = min(max(clickRate, 1e-4), 1 - 1e-4)
    let output = backbone.layers[backbone.layers.count - 1]
    backbone.dense[output.biasOffset] = Float(log(clamped / (1 - clamped)))

    let trainer = BackboneTrainer(
      backbone: backbone, capacity: config.batchSize, optimizer: AdamOptimizer(),
      embeddingL2: config.embeddingL2)
    var order = Array(0..<trainingCount)
    var random = NoiseGenerator(state: config.seed ^ 0x7368_7566_666c_65)
    var batch: [Example] = []
    batch.reserveCapacity(config.batchSize)
    var done = 0
    var lastLoss = 0.0
    var aucByEpoch: [Double?] = []
    let total = trainingCount * config.epochs
    for epoch in 1...config.epochs {
      for index in stride(from: order.count - 1, to: 0, by: -1) {
        order.swapAt(index, random.nextInt(below: index + 1))
      }
      var lossSum = 0.0
      var batches = 0
      var start = 0
      while start < trainingCount {
        let end = min(start + config.batchSize, trainingCount)
        batch.removeAll(keepingCapacity: true)
        for position in start..<end { batch.append(examples[order[position]]) }
        let loss = trainer.trainStep(&backbone, on: batch, rate: config.learningRate)
        lossSum += Double(loss) * Double(end - start)
        done += end - start
        batches += 1
        if batches % 20 == 0 || end == trainingCount {
          progress(
            PretrainProgress(
              epoch: epoch, epochs: config.epochs, examplesDone: done, examplesTotal: total,
              epochLoss: lossSum / Double(end), validationAUC: aucByEpoch.last ?? nil))
        }
        start = end
      }
      lastLoss = lossSum / Double(trainingCount)
      let (auc, logLoss) = evaluate(backbone, on: validation)
      aucByEpoch.append(auc)
      logger.info(
        "pretrain epoch finished",
        [
          "epoch": "\(epoch)", "training_loss": "\(lastLoss)",
          "validation_auc": auc.map { "\($0)" } ?? "n/a",
          "validation_logloss": logLoss.map { "\($0)" } ?? "n/a",
        ])
    }
    let (auc, logLoss) = evaluate(backbone, on: validation)
    let report = PretrainReport(
      trainingExamples: trainingCount, validationExamples: validation.count,
      finalTrainingLoss: lastLoss, validationAUC: auc, validationLogLoss: logLoss,
      validationAUCByEpoch: aucByEpoch)
    return (backbone, report)
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

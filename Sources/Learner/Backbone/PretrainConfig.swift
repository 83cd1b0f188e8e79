/// How `iak-stream pretrain` trains the backbone (`backbone.*` settings).
///
/// Defaults chosen on MovieLens 100k (ratings before 1998, last 10% held out, 9 fields,
/// dim 16, hidden [128, 64]): 3 epochs of batches of 64 at lr 2e-3 reach validation AUC 0.756;
/// batches of 256 at lr 1e-3 reach 0.742, and more epochs overfit.
public struct PretrainConfig: Sendable, Equatable {
  /// The most passes over the training part (`backbone.epochs`); the held-out tail chooses
  /// how many of them the returned backbone gets; default 3.
  public var epochs: Int
  /// Adam learning rate (`backbone.learning_rate`); default 2e-3.
  public var learningRate: Float
  /// Examples per Adam step (`backbone.batch_size`); default 64.
  public var batchSize: Int
  /// Seed of the initialisation and of the per-epoch shuffling (`backbone.seed`); default 1.
  public var seed: UInt64
  /// Fraction of the examples, taken from the end (the most recent when the input is in time
  /// order), held out for validation (`backbone.validation_fraction`); default 0.1.
  public var validationFraction: Double
  /// L2 penalty on the embedding rows a batch touches, per example (`backbone.embedding_l2`);
  /// default 1e-5.
  public var embeddingL2: Float
  /// Whether, once the held-out tail has chosen the number of epochs (at most `epochs`), the
  /// backbone is trained again on every example (`backbone.refit`); default true.
  public var refit: Bool

  /// Creates a configuration; see each property for its default.
  public init(
    epochs: Int = 3, learningRate: Float = 2e-3, batchSize: Int = 64, seed: UInt64 = 1,
    validationFraction: Double = 0.1, embeddingL2: Float = 1e-5, refit: Bool = true
  ) {
    self.epochs = epochs
    self.learningRate = learningRate
    self.batchSize = batchSize
    self.seed = seed
    self.validationFraction = validationFraction
    self.embeddingL2 = embeddingL2
    self.refit = refit
  }

  /// Checks that every setting is in range.
  ///
  /// - Throws: `LearnerError.invalidConfiguration` naming the offending setting.
  public func validate() throws(LearnerError) {
    if epochs < 1 { throw .invalidConfiguration("backbone.epochs = \(epochs): must be >= 1") }
    if !(learningRate > 0) {
      throw .invalidConfiguration("backbone.learning_rate = \(learningRate): must be > 0")
    }
    if batchSize < 1 {
      throw .invalidConfiguration("backbone.batch_size = \(batchSize): must be >= 1")
    }
    if !(validationFraction >= 0 && validationFraction < 1) {
      throw .invalidConfiguration(
        "backbone.validation_fraction = \(validationFraction): must be in [0, 1)")
    }
    if !(embeddingL2 >= 0) {
      throw .invalidConfiguration("backbone.embedding_l2 = \(embeddingL2): must be >= 0")
    }
  }
}

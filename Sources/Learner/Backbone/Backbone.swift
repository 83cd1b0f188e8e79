/// The pre-trained CTR model: hashed embeddings, an MLP tower with ReLU and one logit.
///
/// `x0 = concat(embedding of every categorical field, normalised numerics)`,
/// `h_l = relu(h_{l-1} W_l + b_l)` for l = 1..L, `logit = h_L w + b`. Weight matrices are stored
/// `[input x output]` row-major (so `h @ W` in numpy). The backbone is a value: a trainer that
/// must not change it holds it as a `let`, and copies made for fine-tuning never alias.
public struct Backbone: Sendable, Equatable {
  /// The shape of the model.
  public let config: BackboneConfig
  /// One table per categorical field, `buckets x embeddingDim` row-major.
  var embeddings: [[Float]]
  /// All dense parameters: for each layer (hidden layers, then the output layer) its weight
  /// `[input x output]` followed by its bias `[output]`; see `layers`.
  var dense: [Float]
  /// Per numeric field, the mean subtracted before scaling.
  var numericMean: [Float]
  /// Per numeric field, the factor applied after subtracting the mean (1 / standard deviation).
  var numericScale: [Float]
  /// Where each layer's parameters live in `dense`: the L hidden layers, then the output layer.
  let layers: [DenseLayer]
  /// Per categorical field, the feature hash's state after `"<field>="`
  /// (`FeatureHasher.state(afterField:)`, seeded with `config.hashSeed`): an example's buckets
  /// hash only its values.
  let fieldStates: [UInt64]

  /// Creates a backbone with freshly initialised weights (He-uniform dense layers, small uniform
  /// embeddings, zero biases), reproducible from `seed`.
  ///
  /// - Throws: `LearnerError.invalidConfiguration` when `config` is not usable.
  public init(config: BackboneConfig, seed: UInt64) throws(LearnerError) {
    try config.validate()
    self.config = config
    self.fieldStates = config.fields.map(FeatureHasher(seed: config.hashSeed).state(afterField:))
    self.layers = DenseLayer.layout(for: config)
    var random = NoiseGenerator(state: seed ^ 0x6261_636b_626f_6e65)
    let tableSize = config.buckets * config.embeddingDim
    self.embeddings = config.fields.map { _ in
      (0..<tableSize).map { _ in Float(random.nextUniform() * 0.1 - 0.05) }
    }
    var dense = [Float](
      repeating: 0, count: layers.last.map { $0.biasOffset + $0.outputWidth } ?? 0)
    for layer in layers {
      let limit = (6.0 / Double(layer.inputWidth)).squareRoot()
      for index in 0..<(layer.inputWidth * layer.outputWidth) {
        dense[layer.weightOffset + index] = Float((random.nextUniform() * 2 - 1) * limit)
      }
    }
    self.dense = dense
    self.numericMean = [Float](repeating: 0, count: config.numericFields.count)
    self.numericScale = [Float](repeating: 1, count: config.numericFields.count)
  }

  /// Number of hidden layers (L).
  public var hiddenLayerCount: Int { config.hiddenSizes.count }

  /// Number of trainable parameters (embeddings and dense layers).
  public var parameterCount: Int { embeddings.reduce(0) { $0 + $1.count } + dense.count }

  /// Number of dense (non-embedding) parameters.
  public var denseParameterCount: Int { dense.count }
}

/// The shape of the backbone (`backbone.*` keys); stored as `config.json` next to the weights.
public struct BackboneConfig: Sendable, Equatable {
  /// Categorical field names in input order (`backbone.fields`); each gets its own table.
  public var fields: [String]
  /// Numeric field names in input order (`backbone.numeric_fields`); default none.
  public var numericFields: [String]
  /// Rows of every embedding table (`backbone.buckets`); default 65536.
  public var buckets: Int
  /// Width of every embedding (`backbone.embedding_dim`); default 16.
  public var embeddingDim: Int
  /// Widths of the ReLU layers of the tower, bottom to top (`backbone.hidden`); default [256, 128].
  public var hiddenSizes: [Int]
  /// Seed of the FNV-1a feature hash (`backbone.hash_seed`); default 0.
  public var hashSeed: UInt64
  /// Activation of the hidden layers; only "relu" exists.
  public var activation: String

  /// Creates a configuration; see each property for its default.
  public init(
    fields: [String], numericFields: [String] = [], buckets: Int = 65_536, embeddingDim: Int = 16,
    hiddenSizes: [Int] = [256, 128], hashSeed: UInt64 = 0, activation: String = "relu"
  ) {
    self.fields = fields
    self.numericFields = numericFields
    self.buckets = buckets
    self.embeddingDim = embeddingDim
    self.hiddenSizes = hiddenSizes
    self.hashSeed = hashSeed
    self.activation = activation
  }

  /// Width of `x0 = concat(embeddings, numerics)`.
  public var inputWidth: Int { fields.count * embeddingDim + numericFields.count }

  /// Width of the representation at `level` (0 = `x0`, l = output of hidden layer l).
  public func width(atLevel level: Int) -> Int {
    level == 0 ? inputWidth : hiddenSizes[level - 1]
  }

  /// Checks that the shape is usable.
  ///
  /// - Throws: `LearnerError.invalidConfiguration` naming the offending setting.
  public func validate() throws(LearnerError) {
    if fields.isEmpty && numericFields.isEmpty {
      throw .invalidConfiguration("backbone.fields: no input field; list at least one field")
    }
    if buckets < 1 { throw .invalidConfiguration("backbone.buckets = \(buckets): must be >= 1") }
    if embeddingDim < 1 {
      throw .invalidConfiguration("backbone.embedding_dim = \(embeddingDim): must be >= 1")
    }
    if hiddenSizes.contains(where: { $0 < 1 }) {
      throw .invalidConfiguration("backbone.hidden = \(hiddenSizes): every width must be >= 1")
    }
    let (tableSize, tableOverflow) = buckets.multipliedReportingOverflow(by: embeddingDim)
    let (allTables, allOverflow) = tableSize.multipliedReportingOverflow(by: max(1, fields.count))
    if tableOverflow || allOverflow || allTables > 1 << 30 {
      throw .invalidConfiguration(
        "backbone.buckets x backbone.embedding_dim x fields = \(buckets) x \(embeddingDim) x "
          + "\(fields.count) exceeds 2^30 embedding values; lower the buckets or the dimension")
    }
    if hiddenSizes.contains(where: { $0 > 1 << 16 }) || embeddingDim > 1 << 16 {
      throw .invalidConfiguration(
        "backbone.hidden = \(hiddenSizes), backbone.embedding_dim = \(embeddingDim): widths "
          + "above 65536 are not supported")
    }
    if activation != "relu" {
      throw .invalidConfiguration("backbone.activation = '\(activation)': only 'relu' exists")
    }
  }
}

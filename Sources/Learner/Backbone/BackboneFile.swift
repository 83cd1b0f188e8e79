import Foundation

/// The `config.json` schema of a backbone folder.
///
/// ```json
/// {
///   "format": "iak-stream-backbone", "version": 1,
///   "fields": ["user", "item"], "numeric_fields": [],
///   "buckets": 65536, "embedding_dim": 16, "hidden": [256, 128],
///   "activation": "relu",
///   "hash": {"name": "fnv1a64", "seed": 0, "input": "<field>=<value>",
///            "bucket": "hash % buckets"},
///   "weight_layout": "input x output"
/// }
/// ```
struct BackboneFile: Codable {
  struct Hash: Codable {
    var name: String
    var seed: UInt64
    var input: String
    var bucket: String
  }

  var format: String
  var version: Int
  var fields: [String]
  var numericFields: [String]
  var buckets: Int
  var embeddingDim: Int
  var hidden: [Int]
  var activation: String
  var hash: Hash
  var weightLayout: String

  enum CodingKeys: String, CodingKey {
    case format, version, fields, buckets, hidden, activation, hash
    case numericFields = "numeric_fields"
    case embeddingDim = "embedding_dim"
    case weightLayout = "weight_layout"
  }

  static let formatName = "iak-stream-backbone"

  /// The JSON text for `config` (keys sorted, so the same config gives the same bytes).
  static func configText(_ config: BackboneConfig) -> String {
    let file = BackboneFile(
      format: formatName, version: 1, fields: config.fields, numericFields: config.numericFields,
      buckets: config.buckets, embeddingDim: config.embeddingDim, hidden: config.hiddenSizes,
      activation: config.activation,
      hash: Hash(
        name: "fnv1a64", seed: config.hashSeed, input: "<field>=<value>",
        bucket: "hash % buckets"),
      weightLayout: "input x output")
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .prettyPrinted, .withoutEscapingSlashes]
    let data = (try? encoder.encode(file)) ?? Data()
    return String(decoding: data, as: UTF8.self)
  }

  /// Parses and checks a `config.json`.
  static func parseConfig(_ data: Data, path: String) throws(LearnerError) -> BackboneConfig {
    let file: BackboneFile
    do {
      file = try JSONDecoder().decode(BackboneFile.self, from: data)
    } catch {
      throw .invalidModel("\(path): not a backbone config.json (\(error))")
    }
    if file.format != formatName || file.version != 1 {
      throw .invalidModel(
        "\(path): format '\(file.format)' version \(file.version); expected '\(formatName)' 1")
    }
    if file.hash.name != "fnv1a64" {
      throw .invalidModel("\(path): hash '\(file.hash.name)' is not supported; use fnv1a64")
    }
    let config = BackboneConfig(
      fields: file.fields, numericFields: file.numericFields, buckets: file.buckets,
      embeddingDim: file.embeddingDim, hiddenSizes: file.hidden, hashSeed: file.hash.seed,
      activation: file.activation)
    do {
      try config.validate()
    } catch {
      throw .invalidModel("\(path): \(error)")
    }
    return config
  }
}

import Checkpoint
import Foundation

extension Backbone {
  /// File name of the weights inside a backbone folder.
  public static let weightsFileName = "model.safetensors"
  /// File name of the configuration inside a backbone folder.
  public static let configFileName = "config.json"

  /// The weights as named float32 tensors, the layout of `model.safetensors`:
  /// - `embedding.<field>`: `[buckets, embedding_dim]`, row = FNV-1a bucket (see
  ///   `FeatureHasher`);
  /// - `hidden<l>.weight`: `[input, output]` and `hidden<l>.bias`: `[output]` for l = 1..L, so a
  ///   layer is `relu(x @ W + b)`;
  /// - `output.weight`: `[h_L, 1]` and `output.bias`: `[1]`, the logit;
  /// - `numeric.mean`, `numeric.scale`: `[numeric fields]`, `x = (raw - mean) * scale` (present
  ///   only with numeric fields).
  public func tensors() -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for (index, field) in config.fields.enumerated() {
      result["embedding.\(field)"] = Tensor(
        floats: embeddings[index], shape: [config.buckets, config.embeddingDim])
    }
    for (index, layer) in layers.enumerated() {
      let name = index < layers.count - 1 ? "hidden\(index + 1)" : "output"
      result["\(name).weight"] = Tensor(
        floats: Array(dense[layer.weightOffset..<layer.biasOffset]),
        shape: [layer.inputWidth, layer.outputWidth])
      result["\(name).bias"] = Tensor(
        floats: Array(dense[layer.biasOffset..<(layer.biasOffset + layer.outputWidth)]),
        shape: [layer.outputWidth])
    }
    if !config.numericFields.isEmpty {
      result["numeric.mean"] = Tensor(floats: numericMean, shape: [numericMean.count])
      result["numeric.scale"] = Tensor(floats: numericScale, shape: [numericScale.count])
    }
    return result
  }

  /// The bytes of `model.safetensors` (deterministic: the same weights give the same bytes), to
  /// write or to hash (the backbone's sha256 recorded in every kernel is over these bytes).
  public func encodedWeights() -> [UInt8] {
    SafeTensors(
      tensors: tensors(),
      metadata: ["format": "iak-stream-backbone", "config": BackboneFile.configText(config)]
    ).encoded()
  }

  /// The lowercase hex SHA-256 of `model.safetensors` as `save(to:)` writes it: the backbone
  /// identity recorded in every kernel.
  public var weightsSHA256: String { SHA256.hexDigest(of: encodedWeights()) }

  /// Writes `model.safetensors` and `config.json` into `directory` (created if needed), each
  /// atomically, and returns the lowercase hex SHA-256 of `model.safetensors`.
  ///
  /// - Throws: `LearnerError.io` naming the file that could not be written.
  @discardableResult
  public func save(to directory: String) throws(LearnerError) -> String {
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw .io("cannot create backbone folder \(directory): \(error.localizedDescription)")
    }
    let weights = encodedWeights()
    do {
      try AtomicFile.write(weights, to: directory + "/" + Self.weightsFileName)
      try AtomicFile.write(
        Array((BackboneFile.configText(config) + "\n").utf8),
        to: directory + "/" + Self.configFileName)
    } catch {
      throw .io("cannot write the backbone into \(directory): \(error.description)")
    }
    return SHA256.hexDigest(of: weights)
  }

  /// Reads a backbone written by `save(to:)` (or by any tool that follows the same schema).
  ///
  /// - Throws: `LearnerError.io` when a file cannot be read, `.invalidModel` when the files do
  ///   not match each other or the schema (naming the tensor or key).
  public static func load(from directory: String) throws(LearnerError) -> Backbone {
    let configPath = directory + "/" + configFileName
    guard let configData = FileManager.default.contents(atPath: configPath) else {
      throw .io("cannot read \(configPath); is \(directory) a backbone folder?")
    }
    let config = try BackboneFile.parseConfig(configData, path: configPath)
    let weightsPath = directory + "/" + weightsFileName
    let file: SafeTensors
    do {
      file = try SafeTensors.read(from: weightsPath)
    } catch {
      throw .io("cannot load \(weightsPath): \(error)")
    }
    return try Backbone(config: config, tensors: file.tensors, source: weightsPath)
  }

  /// Builds a backbone from `config` and tensors named as in `tensors()`.
  ///
  /// - Throws: `LearnerError.invalidModel` naming a missing or misshapen tensor.
  public init(config: BackboneConfig, tensors: [String: Tensor], source: String = "tensors")
    throws(LearnerError)
  {
    try config.validate()
    // Check every shape before allocating anything for the model.
    var expected: [(String, [Int])] = config.fields.map {
      ("embedding.\($0)", [config.buckets, config.embeddingDim])
    }
    for (index, layer) in DenseLayer.layout(for: config).enumerated() {
      let name = index < config.hiddenSizes.count ? "hidden\(index + 1)" : "output"
      expected.append(("\(name).weight", [layer.inputWidth, layer.outputWidth]))
      expected.append(("\(name).bias", [layer.outputWidth]))
    }
    if !config.numericFields.isEmpty {
      expected.append(("numeric.mean", [config.numericFields.count]))
      expected.append(("numeric.scale", [config.numericFields.count]))
    }
    for (name, shape) in expected where tensors[name]?.shape != shape {
      throw .invalidModel(
        "\(source): tensor '\(name)' is "
          + (tensors[name].map { "\($0.dtype) \($0.shape)" } ?? "missing")
          + ", expected float32 \(shape); the weights do not match config.json")
    }
    try self.init(config: config, seed: 0)
    func values(_ name: String, shape: [Int]) throws(LearnerError) -> [Float] {
      guard let tensor = tensors[name] else {
        throw .invalidModel("\(source): tensor '\(name)' is missing for config \(config.fields)")
      }
      guard tensor.shape == shape, let floats = try? tensor.floats() else {
        throw .invalidModel(
          "\(source): tensor '\(name)' is \(tensor.dtype) \(tensor.shape), expected float32 "
            + "\(shape); the weights do not match config.json")
      }
      return floats
    }
    for (index, field) in config.fields.enumerated() {
      embeddings[index] = try values(
        "embedding.\(field)", shape: [config.buckets, config.embeddingDim])
    }
    for (index, layer) in layers.enumerated() {
      let name = index < layers.count - 1 ? "hidden\(index + 1)" : "output"
      let weight = try values("\(name).weight", shape: [layer.inputWidth, layer.outputWidth])
      let bias = try values("\(name).bias", shape: [layer.outputWidth])
      dense.replaceSubrange(layer.weightOffset..<layer.biasOffset, with: weight)
      dense.replaceSubrange(
        layer.biasOffset..<(layer.biasOffset + layer.outputWidth), with: bias)
    }
    if !config.numericFields.isEmpty {
      numericMean = try values("numeric.mean", shape: [config.numericFields.count])
      numericScale = try values("numeric.scale", shape: [config.numericFields.count])
    }
  }
}

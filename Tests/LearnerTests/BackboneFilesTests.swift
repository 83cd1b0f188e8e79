import Checkpoint
import Foundation
import Testing

@testable import Learner

@Suite struct BackboneFilesTests {
  static let config = BackboneConfig(
    fields: ["user", "item", "genre"], numericFields: ["age"], buckets: 32, embeddingDim: 3,
    hiddenSizes: [7, 5], hashSeed: 12_345_678_901_234)

  static func temporaryDirectory() -> String {
    let path = NSTemporaryDirectory() + "iak-learner-\(UUID().uuidString)"
    try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }

  static func probe() -> [Example] {
    (0..<20).map { index in
      Example(
        domain: "d", categorical: ["u\(index % 5)", "i\(index % 7)", index % 3 == 0 ? "" : "g"],
        numeric: [Float(index) * 1.5], label: Float(index % 2), eventTimeMs: 0)
    }
  }

  @Test func saveThenLoadGivesTheSameBackboneAndBytes() throws {
    var backbone = try Backbone(config: Self.config, seed: 2)
    backbone.numericMean = [10]
    backbone.numericScale = [0.25]
    let directory = Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let digest = try backbone.save(to: directory)
    let loaded = try Backbone.load(from: directory)
    #expect(loaded == backbone)
    let fileBytes = try #require(
      FileManager.default.contents(atPath: directory + "/model.safetensors"))
    #expect(loaded.encodedWeights() == Array(fileBytes))
    #expect(digest == SHA256.hexDigest(of: Array(fileBytes)))
    #expect(loaded.weightsSHA256 == digest)
    #expect(digest.count == 64)
    #expect(
      loaded.probabilities(for: Self.probe()).map(\.bitPattern)
        == backbone.probabilities(for: Self.probe()).map(\.bitPattern))
    let file = try SafeTensors.read(from: directory + "/model.safetensors")
    #expect(file.tensors["embedding.user"]?.shape == [32, 3])
    #expect(file.tensors["hidden1.weight"]?.shape == [3 * 3 + 1, 7])
    #expect(file.tensors["output.weight"]?.shape == [5, 1])
    let configText = try String(contentsOfFile: directory + "/config.json", encoding: .utf8)
    #expect(configText.contains("\"seed\" : 12345678901234"))
    #expect(configText.contains("\"fnv1a64\""))
  }

  @Test func loadNamesTheMismatchedTensor() throws {
    let backbone = try Backbone(config: Self.config, seed: 2)
    var tensors = backbone.tensors()
    tensors["hidden2.weight"] = Tensor(floats: [1, 2], shape: [2, 1])
    #expect {
      try Backbone(config: Self.config, tensors: tensors)
    } throws: { error in
      "\(error)".contains("hidden2.weight")
    }
  }

  @Test func pythonReproducesScoresFromTheSavedFiles() throws {
    var backbone = try Backbone(config: Self.config, seed: 3)
    backbone.numericMean = [12]
    backbone.numericScale = [0.1]
    let directory = Self.temporaryDirectory()
    defer { try? FileManager.default.removeItem(atPath: directory) }
    try backbone.save(to: directory)
    let probe = Self.probe()
    var lines: [String] = []
    for example in probe {
      let fields = example.categorical.map { "\"\($0)\"" }.joined(separator: ",")
      lines.append("[[\(fields)],[\(example.numeric[0])]]")
    }
    try ("[" + lines.joined(separator: ",") + "]").write(
      toFile: directory + "/probe.json", atomically: true, encoding: .utf8)
    let script = """
      import json, sys, numpy as np
      from safetensors.numpy import load_file
      d = sys.argv[1]
      cfg = json.load(open(d + "/config.json"))
      t = load_file(d + "/model.safetensors")
      def bucket(field, value):
          h = 0xcbf29ce484222325 ^ cfg["hash"]["seed"]
          for b in (field + "=" + value).encode():
              h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
          return h % cfg["buckets"]
      out = []
      for cats, nums in json.load(open(d + "/probe.json")):
          parts = [t["embedding." + f][bucket(f, v)] for f, v in zip(cfg["fields"], cats)]
          if cfg["numeric_fields"]:
              parts.append((np.array(nums, np.float32) - t["numeric.mean"]) * t["numeric.scale"])
          x = np.concatenate(parts).astype(np.float64)
          for l in range(1, len(cfg["hidden"]) + 1):
              x = np.maximum(0, x @ t["hidden%d.weight" % l] + t["hidden%d.bias" % l])
          logit = (x @ t["output.weight"] + t["output.bias"])[0]
          out.append(1 / (1 + np.exp(-logit)))
      print(json.dumps(out))
      """
    try script.write(toFile: directory + "/score.py", atomically: true, encoding: .utf8)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", directory + "/score.py", directory]
    let pipe = Pipe()
    process.standardOutput = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    try #require(process.terminationStatus == 0, "python3 with numpy and safetensors is needed")
    let pythonScores = try #require(try JSONSerialization.jsonObject(with: output) as? [Double])
    let swiftScores = backbone.probabilities(for: probe)
    #expect(pythonScores.count == swiftScores.count)
    for (python, swift) in zip(pythonScores, swiftScores) {
      #expect(abs(python - Double(swift)) < 1e-5)
    }
  }

  @Test func absurdShapesAreRejectedBeforeAllocating() throws {
    let huge = BackboneConfig(fields: ["a", "b"], buckets: Int.max / 2, embeddingDim: 16)
    #expect(throws: LearnerError.self) { try Backbone(config: huge, tensors: [:]) }
    let state: [String: Tensor] = [
      "layout": Tensor(int64s: [1 << 40, 0, 1 << 40], shape: [3])
    ]
    #expect(throws: LearnerError.self) { try IAKKernel(domain: "d", stateTensors: state) }
  }
}

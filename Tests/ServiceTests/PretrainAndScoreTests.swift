import Checkpoint
import Foundation
import Learner
import Testing

@testable import Service

/// `pretrain` then `score` through the command line, on a small synthetic stream whose clicks
/// depend on the item, with a kernel trained by the Learner for one domain.
@Suite struct PretrainAndScoreTests {
  static func syntheticEvents(count: Int) -> String {
    var lines: [String] = []
    var state: UInt64 = 42
    func next() -> UInt64 {
      state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      return state >> 33
    }
    for index in 0..<count {
      let user = next() % 50
      let item = next() % 20
      let region = ["east", "west"][Int(next() % 2)]
      let clicked = (item % 3 == 0) != (next() % 10 == 0)
      let time = 883_000_000_000 + Int64(index) * 60_000
      lines.append(
        "{\"type\":\"impression\",\"id\":\"i\(index)\",\"ts\":\(time),\"region\":\"\(region)\","
          + "\"user\":\"u\(user)\",\"item\":\"m\(item)\",\"click\":\(clicked ? 1 : 0)}")
    }
    return lines.joined(separator: "\n") + "\n"
  }

  @Test func pretrainWritesABackboneThatScoreUsesWithKernels() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-score-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let events = folder + "/events.jsonl"
    try Self.syntheticEvents(count: 3000).write(toFile: events, atomically: true, encoding: .utf8)
    let settings = [
      "--set", "backbone.fields=user,item", "--set", "backbone.buckets=512",
      "--set", "backbone.hidden=16,8", "--set", "backbone.until=", "--set", "backbone.epochs=4",
      "--set", "domain.window=month",
    ]
    let out = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: ["iak-stream", "pretrain", "--input", events, "--out", folder + "/bb"]
        + settings,
      output: { out.write($0) }, errorOutput: { out.writeError($0) })
    #expect(status == 0, "pretrain failed: \(out.errors)")
    #expect(out.output.contains("AUC 0.8") || out.output.contains("AUC 0.9"), "\(out.output)")

    // Train kernels for the domains of this stream and save them as a snapshot would.
    var configuration = Configuration()
    for index in stride(from: 1, to: settings.count, by: 2) {
      try configuration.apply(override: settings[index])
    }
    let backbone = try Backbone.load(from: folder + "/bb")
    // The hash snapshots and published kernels record is the file's sha256.
    let file = try #require(FileManager.default.contents(atPath: folder + "/bb/model.safetensors"))
    #expect(backbone.weightsSHA256 == SHA256.hexDigest(of: Array(file)))
    #expect(out.output.contains("sha256 \(backbone.weightsSHA256)"))
    let trainer = try Trainer(
      backbone: backbone, kernelConfig: try configuration.kernelConfig(),
      config: TrainConfig(batchMax: 8, learningRate: 3e-3, activationMinExamples: 50))
    let contents = try EventFile.read(events, configuration: configuration, logger: .disabled)
    let assembler = ExampleAssembler(backbone: backbone.config)
    for labelled in contents.examples {
      _ = trainer.process(
        assembler.example(for: labelled.impression, label: labelled.label, domain: labelled.domain))
    }
    _ = trainer.flush()
    var tensors: [String: Tensor] = [:]
    for (domain, kernel) in trainer.kernels {
      tensors.merge(kernel.stateTensors(prefix: domain + "/")) { first, _ in first }
    }
    try SafeTensors(tensors: tensors).write(to: folder + "/kernels.safetensors")
    let loaded = try KernelFile.load(folder + "/kernels.safetensors")
    #expect(Set(loaded.keys) == Set(trainer.kernels.keys))
    for (domain, kernel) in trainer.kernels {
      #expect(loaded[domain]?.stateTensors() == kernel.stateTensors())
    }

    // A bare file of training state says neither which backbone nor which kernels serve.
    func score(_ kernels: String, _ extra: [String] = []) -> (Int32, String) {
      let captured = CommandLineToolTests.Captured()
      let status = CommandLineTool.main(
        arguments: [
          "iak-stream", "score", "--backbone", folder + "/bb", "--kernels", kernels, "--input",
          events, "--out", folder + "/scores.jsonl",
        ] + settings + extra,
        output: { captured.write($0) }, errorOutput: { captured.writeError($0) })
      return (status, captured.output + captured.errors)
    }
    let (bare, bareOutput) = score(folder + "/kernels.safetensors")
    #expect(bare == 2)
    #expect(bareOutput.contains("without the manifest.json of their snapshot"), "\(bareOutput)")

    // Served as `kernels export` lays them out: one file per domain and kernels.json; a
    // kernel serves when it is active (here: past its activation count).
    func export(to out: String, backboneSHA256: String) throws {
      let items = trainer.kernels.values.map {
        KernelPublisher.Item(kernel: $0, kernelVersion: 1, isActive: $0.isActive)
      }
      try KernelPublisher(
        producer: nil, topic: "", folder: out, backboneSHA256: backboneSHA256,
        kernelConfig: try configuration.kernelConfig(), logger: .disabled, metrics: nil
      ).publish(items, snapshotVersion: 1, createdAtMilliseconds: 1)
      let index = KernelIndex(
        snapshotVersion: 1, createdAtMilliseconds: 1, backboneSHA256: backboneSHA256,
        insertAt: "hidden1", bottleneck: 8, encoderHidden: 0,
        entries: items.map {
          KernelIndex.Entry(
            domain: $0.kernel.domain, file: $0.kernel.domain + ".safetensors",
            kernelVersion: 1, isActive: $0.isActive, backboneSHA256: backboneSHA256,
            examplesSeen: $0.kernel.examplesSeen)
        })
      try AtomicFile.write(index.encoded(), to: out + "/" + KernelIndex.fileName)
    }
    try export(to: folder + "/serving", backboneSHA256: backbone.weightsSHA256)
    let (scoreStatus, scoreOutput) = score(folder + "/serving")
    #expect(scoreStatus == 0, "score failed: \(scoreOutput)")
    let lines = try String(contentsOfFile: folder + "/scores.jsonl", encoding: .utf8)
      .split(separator: "\n")
    #expect(lines.count == 3000)
    var throughKernel = 0
    for line in lines {
      let object = try #require(
        try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
      let score = try #require(object["score"] as? Double)
      let backboneScore = try #require(object["backbone_score"] as? Double)
      if object["kernel"] as? Bool == true {
        throughKernel += 1
      } else {
        #expect(score == backboneScore)
      }
    }
    let active = trainer.kernels.values.filter(\.isActive).map(\.domain)
    #expect(!active.isEmpty)
    #expect(
      throughKernel == contents.examples.filter { active.contains($0.domain) }.count)

    // Kernels stamped with another backbone are refused unless asked for (issue 15: applied
    // without a word).
    let other = String(repeating: "ab", count: 32)
    try export(to: folder + "/other", backboneSHA256: other)
    let (refused, refusal) = score(folder + "/other")
    #expect(refused == 2)
    #expect(refusal.contains("trained on backbone \(other), not on this one"), "\(refusal)")
    #expect(refusal.contains("--allow-other-backbone"))
    let (allowed, allowedOutput) = score(folder + "/other", ["--allow-other-backbone"])
    #expect(allowed == 0, "\(allowedOutput)")
    #expect(allowedOutput.contains("2 kernel(s) of another backbone applied"))
    #expect(allowedOutput.contains("(\(throughKernel) through a kernel"), "\(allowedOutput)")
    // One published file of another backbone, too.
    let one = try #require(active.first)
    let (single, singleOutput) = score(folder + "/other/\(one).safetensors")
    #expect(single == 2)
    #expect(singleOutput.contains("trained on backbone \(other)"))
  }
}

import Checkpoint
import Foundation
import Learner
import Stream
import Testing

@testable import Service

@Suite struct KernelPublisherTests {
  static func trainedKernels() throws -> (Backbone, KernelConfig, [IAKKernel]) {
    let backbone = try Backbone(
      config: BackboneConfig(fields: ["user", "item"], buckets: 64, hiddenSizes: [8, 4]), seed: 3)
    let kernelConfig = KernelConfig(bottleneck: 2)
    let trainer = try Trainer(
      backbone: backbone, kernelConfig: kernelConfig,
      config: TrainConfig(batchMax: 4, learningRate: 1e-2, activationMinExamples: 4))
    for index in 0..<64 {
      let domain = index % 2 == 0 ? "1998-03/east" : "1998-03/west"
      _ = trainer.process(
        Example(
          domain: domain, categorical: ["u\(index % 7)", "i\(index % 5)"], numeric: [],
          label: index % 3 == 0 ? 1 : 0, eventTimeMs: Int64(index) * 1000))
    }
    _ = trainer.flush()
    return (backbone, kernelConfig, trainer.kernels.values.sorted { $0.domain < $1.domain })
  }

  @Test func publishesServingFilesToTheTopicAndFolder() throws {
    let (_, kernelConfig, kernels) = try Self.trainedKernels()
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("iak-kernels", partitions: 2)
    let configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let producer = try KafkaProducer.make(configuration: configuration)
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-publish-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let publisher = KernelPublisher(
      producer: producer, topic: "iak-kernels", folder: folder, backboneSHA256: "ab12",
      kernelConfig: kernelConfig, logger: .disabled, metrics: nil)
    let items = kernels.enumerated().map {
      KernelPublisher.Item(kernel: $1, kernelVersion: $0 + 3, isActive: $0 == 0)
    }
    try publisher.publish(items, snapshotVersion: 9, createdAtMilliseconds: 1_000)

    let records = try KafkaTopicReader.readAll(
      "iak-kernels", configuration: configuration, timeout: .seconds(10))
    #expect(records.count == 2)
    for (index, item) in items.enumerated() {
      let record = try #require(records.first { $0.key == Array(item.kernel.domain.utf8) })
      #expect(
        record.headers == [Record.Header(name: "iak-version", value: Array("\(index + 3)".utf8))])
      let file = try SafeTensors.decode(record.value)
      #expect(file.tensors == item.kernel.weightTensors())
      #expect(file.metadata["domain"] == item.kernel.domain)
      #expect(file.metadata["kernel_version"] == "\(index + 3)")
      #expect(file.metadata["snapshot_version"] == "9")
      #expect(file.metadata["backbone_sha256"] == "ab12")
      #expect(file.metadata["insert_at"] == "hidden1")
      #expect(file.metadata["active"] == (index == 0 ? "true" : "false"))
      #expect(file.metadata["examples_seen"] == "\(item.kernel.examplesSeen)")
      let onDisk = try #require(
        FileManager.default.contents(atPath: "\(folder)/\(item.kernel.domain).safetensors"))
      #expect(Array(onDisk) == record.value)
      // A serving system reads the published kernel back as the same weights.
      let served = try KernelFile.load("\(folder)/\(item.kernel.domain).safetensors")
      #expect(served[item.kernel.domain]?.weightTensors() == item.kernel.weightTensors())
      #expect(served[item.kernel.domain]?.isActive == (index == 0))
    }
    try Self.pythonLoads(
      path: "\(folder)/\(items[0].kernel.domain).safetensors", value: records[0].value)
  }

  @Test func anUndeliveredKernelFailsThePublish() throws {
    let (_, kernelConfig, kernels) = try Self.trainedKernels()
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("iak-kernels", partitions: 1)
    let configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
      .setting("message.timeout.ms", "500")
    let producer = try KafkaProducer.make(configuration: configuration)
    try cluster.setBrokerDown(1)  // a broker that stays down: the delivery times out
    let publisher = KernelPublisher(
      producer: producer, topic: "iak-kernels", folder: nil, backboneSHA256: "ab12",
      kernelConfig: kernelConfig, logger: .disabled, metrics: nil)
    #expect {
      try publisher.publish(
        [KernelPublisher.Item(kernel: kernels[0], kernelVersion: 1, isActive: true)],
        snapshotVersion: 1, createdAtMilliseconds: 0, timeout: .seconds(10))
    } throws: { error in
      (error as? KernelPublisher.Failure)?.domains == [kernels[0].domain]
    }
  }

  /// Python's safetensors loads the published message value and the folder file as they are.
  static func pythonLoads(path: String, value: [UInt8]) throws {
    let valuePath = path + ".message"
    try Data(value).write(to: URL(fileURLWithPath: valuePath))
    let script = """
      import sys
      from safetensors.numpy import load_file
      from safetensors import safe_open
      for path in sys.argv[1:]:
          tensors = load_file(path)
          assert "decoder.weight" in tensors and "encoder.weight" in tensors, tensors.keys()
          with safe_open(path, framework="numpy") as f:
              meta = f.metadata()
          assert meta["format"] == "iak-kernel/1", meta
          print(path, sorted(tensors), meta["domain"])
      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script, path, valuePath]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    process.waitUntilExit()
    let said = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    #expect(process.terminationStatus == 0, "python could not load the kernel: \(said)")
  }
}

extension KernelPublisherTests {
  @Test(arguments: [
    "../../escape", "1998-03/../../etc", "/abs/path", "1998-03/..", "a/b/c", "..", "1998-03/-rf",
  ])
  func aDomainThatIsNotASafeNameNeverBecomesAPath(_ domain: String) throws {
    let (_, kernelConfig, kernels) = try Self.trainedKernels()
    let root = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-publish-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: root) }
    let folder = root + "/a/b/publish"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    let hostile = try IAKKernel(domain: domain, stateTensors: kernels[0].stateTensors())
    let publisher = KernelPublisher(
      producer: nil, topic: "", folder: folder, backboneSHA256: "ab12",
      kernelConfig: kernelConfig, logger: .disabled, metrics: nil)
    #expect {
      try publisher.publish(
        [
          KernelPublisher.Item(kernel: kernels[1], kernelVersion: 1, isActive: true),
          KernelPublisher.Item(kernel: hostile, kernelVersion: 1, isActive: true),
        ], snapshotVersion: 1, createdAtMilliseconds: 0)
    } throws: { error in
      let failure = error as? KernelPublisher.Failure
      return failure?.domains == [domain] && failure?.reason.contains("not a safe") == true
    }
    // Only the safe domain's file exists, inside the folder; nothing was written above it.
    let written = try #require(FileManager.default.subpaths(atPath: root)).sorted()
    #expect(
      written == ["a", "a/b", "a/b/publish", "a/b/publish/1998-03"]
        + ["a/b/publish/\(kernels[1].domain).safetensors"])
  }
}

import Base
import Checkpoint
import Foundation
import Learner
import Stream
import Testing

@testable import Service

@Suite struct KernelsCommandTests {
  /// A store with two snapshots: kernels trained on 64 examples, then on 64 more; with
  /// `eastRetiredAt`, the second holds no east kernel, its book the east domain retired at that
  /// version.
  static func makeStore(at folder: String, eastRetiredAt: Int? = nil) throws -> [IAKKernel] {
    let backbone = try Backbone(
      config: BackboneConfig(fields: ["user", "item"], buckets: 64, hiddenSizes: [8, 4]), seed: 3)
    let trainer = try Trainer(
      backbone: backbone, kernelConfig: KernelConfig(bottleneck: 2),
      config: TrainConfig(batchMax: 4, learningRate: 1e-2, activationMinExamples: 4))
    let store = try SnapshotStore(directory: folder, keep: 5)
    var first: [IAKKernel] = []
    for round in 0..<2 {
      for index in 0..<64 {
        _ = trainer.process(
          Example(
            domain: index % 2 == 0 ? "1998-03/east" : "1998-03/west",
            categorical: ["u\(index % 7 + round)", "i\(index % 5)"], numeric: [],
            label: index % 3 == 0 ? 1 : 0, eventTimeMs: Int64(round * 64 + index) * 1000))
      }
      _ = trainer.flush()
      let retiresEast = round == 1 && eastRetiredAt != nil
      var tensors: [String: Tensor] = [:]
      for (domain, kernel) in trainer.kernels where !(retiresEast && domain == "1998-03/east") {
        tensors.merge(kernel.stateTensors(prefix: domain + "/")) { a, _ in a }
      }
      if round == 0 { first = trainer.kernels.values.sorted { $0.domain < $1.domain } }
      let held = trainer.kernels.keys.filter { !(retiresEast && $0 == "1998-03/east") }
      let stats = held.reduce(into: [String: [String: Double]]()) {
        stats, domain in
        stats[domain] = [
          "examples": Double(40 + 40 * round), "auc": 0.61 + Double(round) / 100,
          "backbone_auc": 0.6,
        ]
      }
      try store.write(
        SafeTensors(tensors: tensors),
        offsets: [
          TopicPartition(topic: "iak-events", partition: 0): Int64(64 * (round + 1))
        ],
        backboneSHA256: "feed", configurationDigest: "c",
        extras: [
          SnapshotView.kernelVersionsKey: SnapshotView.encodeMap(
            held.reduce(into: [String: Int]()) { $0[$1] = round + 1 }),
          SnapshotView.domainStatsKey: SnapshotView.encodeMap(stats),
        ].merging(
          RetiredVersion.extras(
            retiresEast
              ? ["1998-03/east": RetiredVersion(version: eastRetiredAt!, lane: 0)] : [:])
        ) { first, _ in first })
    }
    return first
  }

  func run(_ words: [String]) -> (Int32, CommandLineToolTests.Captured) {
    let captured = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: ["iak-stream", "kernels"] + words, output: { captured.write($0) },
      errorOutput: { captured.writeError($0) })
    return (status, captured)
  }

  @Test func listShowDiffAndExportReadTheStore() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-kernels-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    _ = try Self.makeStore(at: folder + "/store")
    let (listStatus, list) = run(["list", "--checkpoint-dir", folder + "/store"])
    #expect(listStatus == 0, "\(list.errors)")
    #expect(list.output.contains("snapshot 2 taken"))
    let east = try #require(
      list.output.split(separator: "\n").first { $0.hasPrefix("1998-03/east") })
    #expect(
      east.split(separator: " ").map(String.init).prefix(6) == [
        "1998-03/east", "2", "80", "64", "0.6200", "0.6000",
      ])
    #expect(list.output.contains("domain_examples kernel_examples"))
    let (showStatus, show) = run(["show", "1998-03/west", "--checkpoint-dir", folder + "/store"])
    #expect(showStatus == 0)
    #expect(show.output.contains("decoder.weight F32 [2, 8]"))
    #expect(show.output.contains("kernel version: 2"))
    #expect(
      show.output.contains(
        "domain examples (labelled examples of this domain in closed batches): 80"))
    #expect(show.output.contains("kernel examples (all it trained on, warm starts included): 64"))
    let (diffStatus, diff) = run(["diff", "1", "2", "--checkpoint-dir", folder + "/store"])
    #expect(diffStatus == 0)
    #expect(diff.output.contains("1998-03/east"))
    #expect(diff.output.contains(" changed "))
    let (exportStatus, _) = run([
      "export", "--out", folder + "/serving", "--checkpoint-dir", folder + "/store",
    ])
    #expect(exportStatus == 0)
    let served = try KernelFile.load(folder + "/serving/1998-03/east.safetensors")
    #expect(served["1998-03/east"] != nil)
    let (missing, errors) = run(["show", "1998-03/north", "--checkpoint-dir", folder + "/store"])
    #expect(missing == 2)
    #expect(errors.errors.contains("no kernel for domain '1998-03/north'"))
  }

  /// Runs `kernels rollback 1998-03/east --to 1` on the store in `folder/store`, publishing to
  /// a new mock cluster (returned: its topic holds what was published) and to
  /// `folder/published`; returns the newest snapshot after it.
  func rollBackEast(in folder: String) throws -> (SnapshotView, MockKafkaCluster) {
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("iak-kernels", partitions: 1)
    let (status, captured) = run([
      "rollback", "1998-03/east", "--to", "1", "--checkpoint-dir", folder + "/store",
      "--set", "kafka.bootstrap.servers=\(cluster.bootstrapServers)",
      "--set", "publish.dir=\(folder)/published",
    ])
    #expect(status == 0, "\(captured.errors)")
    let store = try SnapshotStore(directory: folder + "/store", keep: 5)
    let live = SnapshotView(
      try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot))
    return (live, cluster)
  }

  @Test func rollbackMakesTheOldKernelLiveAndRepublishesItsExactWeights() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-rollback-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let first = try Self.makeStore(at: folder + "/store")
    let (live, cluster) = try rollBackEast(in: folder)
    #expect(live.snapshot.manifest.version == 3)
    let store = try SnapshotStore(directory: folder + "/store", keep: 5)
    let old = SnapshotView(try store.load(version: 1, expectingBackbone: nil))
    #expect(live.tensors(of: "1998-03/east") == old.tensors(of: "1998-03/east"))
    #expect(live.kernelVersions["1998-03/east"] == 3)
    let records = try KafkaTopicReader.readAll(
      "iak-kernels", configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers),
      timeout: .seconds(10))
    #expect(records.count == 1)
    let published = try SafeTensors.decode(try #require(records.first).value)
    let east = try #require(first.first { $0.domain == "1998-03/east" })
    #expect(published.tensors == east.weightTensors())
    #expect(published.metadata["kernel_version"] == "3")
    let file = try #require(
      FileManager.default.contents(atPath: "\(folder)/published/1998-03/east.safetensors"))
    #expect(Array(file) == records[0].value)
  }

  /// A kernel rolled back for a domain retired since numbers on from its retired version (a
  /// version number names one set of weights), and leaves the retired list.
  @Test func rollingBackARetiredDomainNumbersOnFromItsRetiredVersion() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-rollback-retired-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    _ = try Self.makeStore(at: folder + "/store", eastRetiredAt: 5)
    let (live, _) = try rollBackEast(in: folder)
    #expect(live.kernelVersions == ["1998-03/east": 6, "1998-03/west": 2])
    #expect(DomainBook(metadata: live.snapshot.manifest.extras).retired.isEmpty)
    let published = try SafeTensors.decode(
      Array(
        try #require(
          FileManager.default.contents(atPath: "\(folder)/published/1998-03/east.safetensors"))))
    #expect(published.metadata["kernel_version"] == "6")
  }
  @Test func aRollbackWithNoTopicPublishesToTheFolderAloneAndNumbersItsStepsOnce() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-rollback-offline-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let first = try Self.makeStore(at: folder + "/store")
    // No Kafka anywhere: with publish.topic empty the command must not try to reach one.
    let (status, captured) = run([
      "rollback", "1998-03/east", "--to", "1", "--checkpoint-dir", folder + "/store",
      "--set", "kafka.bootstrap.servers=127.0.0.1:1", "--set", "publish.topic=",
      "--set", "publish.dir=\(folder)/published",
    ])
    #expect(status == 0, "\(captured.errors)")
    #expect(
      captured.output.contains(
        "live in snapshot 3 as kernel version 3, republished to \(folder)/published"),
      "\(captured.output)")
    let published = try SafeTensors.decode(
      Array(
        try #require(
          FileManager.default.contents(atPath: "\(folder)/published/1998-03/east.safetensors"))))
    #expect(published.metadata["kernel_version"] == "3")
    // The version names the rolled-back weights at their steps: a checkpoint of this state
    // gives them no other number.
    let store = try SnapshotStore(directory: folder + "/store", keep: 5)
    let live = try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot)
    var book = DomainBook(metadata: live.manifest.extras)
    let east = try #require(first.first { $0.domain == "1998-03/east" })
    #expect(book.publishedSteps["1998-03/east"] == east.stepCount)
    #expect(book.allocate(stepCounts: [("1998-03/east", east.stepCount)]).isEmpty)
  }

  @Test func aRollbackWhosePublicationFailsStandsAndSaysWhatComesNext() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-rollback-unpublished-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    _ = try Self.makeStore(at: folder + "/store")
    let (status, captured) = run([
      "rollback", "1998-03/east", "--to", "1", "--checkpoint-dir", folder + "/store",
      "--set", "kafka.bootstrap.servers=127.0.0.1:1", "--set", "kafka.message.timeout.ms=1000",
    ])
    #expect(status == 1)
    #expect(
      captured.errors.contains(
        "live in snapshot 3 as kernel version 3, but publishing it failed ("),
      "\(captured.errors)")
    #expect(captured.errors.contains("do not roll back again"), "\(captured.errors)")
    #expect(!captured.errors.contains("offsets"), "\(captured.errors)")
    // The rollback stands, not marked delivered: the next serve publishes every kernel of it.
    let store = try SnapshotStore(directory: folder + "/store", keep: 5)
    let live = SnapshotView(
      try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot))
    #expect(live.snapshot.manifest.version == 3)
    #expect(live.kernelVersions["1998-03/east"] == 3)
    #expect(Pipeline.deliveredVersion(in: store) < 3)
  }
}

extension KernelsCommandTests {
  @Test func aVersionThatIsNotAWholeNumberIsAUsageError() throws {
    let folder = try TemporaryFolder.make("iak-kernels")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    _ = try Self.makeStore(at: folder + "/store")
    for bad in ["x", "1.5", "", "0"] {
      let (status, out) = run(["list", "--checkpoint-dir", folder + "/store", "--version", bad])
      #expect(status == 2, "--version '\(bad)'")
      #expect(
        out.errors
          == "iak-stream kernels: --version expects a snapshot version (a whole number from 1), "
          + "got '\(bad)'\n", "\(out.errors)")
      #expect(out.output.isEmpty)
    }
    let (status, first) = run(["list", "--checkpoint-dir", folder + "/store", "--version", "1"])
    #expect(status == 0, "\(first.errors)")
    #expect(first.output.contains("snapshot 1 taken"))
  }

  @Test func aMissingOrUnknownSubcommandIsAUsageErrorBeforeTheStoreIsOpened() {
    let missing = "/nonexistent-\(UUID().uuidString)"
    let (none, noneOut) = run(["--checkpoint-dir", missing])
    #expect(none == 2)
    #expect(
      noneOut.errors
        == "iak-stream kernels: give a subcommand: list, show, diff, rollback or export\n",
      "\(noneOut.errors)")
    let (unknown, unknownOut) = run(["frob", "--checkpoint-dir", missing])
    #expect(unknown == 2)
    #expect(
      unknownOut.errors
        == "iak-stream kernels: unknown subcommand 'frob': give list, show, diff, rollback or "
        + "export\n", "\(unknownOut.errors)")
    // Known subcommands with wrong words are refused before the store is opened too.
    let (diff, diffOut) = run(["diff", "4", "--checkpoint-dir", missing])
    #expect(diff == 2)
    #expect(diffOut.errors.contains("kernels diff takes two snapshot versions"))
  }
}

extension KernelsCommandTests {
  @Test func exportToAnExistingFileSaysItIsNotAFolder() throws {
    let folder = try TemporaryFolder.make("iak-kernels")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    _ = try Self.makeStore(at: folder + "/store")
    let file = folder + "/afile"
    try "x".write(toFile: file, atomically: true, encoding: .utf8)
    let (status, out) = run(["export", "--checkpoint-dir", folder + "/store", "--out", file])
    #expect(status == 2)
    #expect(
      out.errors
        == "iak-stream kernels: --out \(file) exists and is not a folder; give a folder (it is "
        + "made if missing)\n", "\(out.errors)")
    #expect(try String(contentsOfFile: file, encoding: .utf8) == "x")
    // A publish failure says what failed; only a caller that holds offsets speaks of them.
    let failure = KernelPublisher.Failure(domains: ["1998-03/east"], reason: "disk full")
    #expect(failure.description == "publishing 1 kernel(s) failed (1998-03/east): disk full")
  }
}

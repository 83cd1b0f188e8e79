import Checkpoint
import Datasets
import Foundation
import Learner
import Observability
import Stream
import Testing

@testable import Service

/// Issue 8, hostile input: 10,000+ bad events mixed into a real stream and run through the
/// Pipeline with a dead-letter topic on the mock cluster. Zero crashes; every rejected event on
/// the dead-letter topic with its reason; every kernel finite and bit-identical to the run
/// without the bad events; hostile regions only ever become safe names (tensor names and
/// publish.dir files).
@Suite struct HostileInputTests {
  static let settings = [
    "backbone.fields=user,item", "backbone.buckets=512", "backbone.hidden=16,8",
    "domain.window=every 1d", "train.batch_max=8", "label.wait=1m",
    // The layer of the snapshot fixture these settings also read (SnapshotCompatibilityTests),
    // written when `hidden1` was the default.
    "iak.insert_at=hidden1",
  ]

  static func configuration() throws -> Configuration {
    var configuration = Configuration()
    for setting in settings { try configuration.apply(override: setting) }
    return configuration
  }

  /// The synthetic stream of the replay tests with clicks split from their impressions, so the
  /// joiner holds state while hostile events pass.
  static func goodLines(count: Int) -> [[UInt8]] {
    var lines: [[UInt8]] = []
    for line in PretrainAndScoreTests.syntheticEvents(count: count).split(separator: "\n") {
      let clicked = line.hasSuffix("\"click\":1}")
      let impression = line.replacingOccurrences(of: ",\"click\":1}", with: "}")
        .replacingOccurrences(of: ",\"click\":0}", with: "}")
      lines.append(Array(impression.utf8))
      let parts = impression.split(separator: "\"")
      if clicked, let time = impression.split(separator: ":")[3].split(separator: ",").first {
        lines.append(
          Array("{\"type\":\"click\",\"id\":\"\(parts[7])\",\"ts\":\(Int64(time)! + 2000)}".utf8))
      }
    }
    return lines
  }

  struct Run {
    let pipeline: Pipeline
    let store: SnapshotStore
    let metrics: MetricsRegistry
  }

  static func run(
    _ lines: [[UInt8]], folder: String, backbone: Backbone, deadLetters: DeadLetterWriter?,
    metrics: MetricsRegistry
  ) throws -> Run {
    let configuration = try configuration()
    let store = try SnapshotStore(directory: folder + "/store", keep: 3)
    let publisher = KernelPublisher(
      producer: nil, topic: "", folder: folder + "/publish", backboneSHA256: "bb",
      kernelConfig: try configuration.kernelConfig(), logger: .disabled, metrics: metrics)
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: "bb", store: store,
      publisher: publisher, alertEmitter: nil, deadLetters: deadLetters, logger: .disabled,
      metrics: metrics)
    var bytes: [UInt8] = []
    for line in lines { bytes += line + [0x0A] }
    let source = try FileRecordSource(bytes: bytes, topic: "events")
    while !source.isEndOfInput {
      try pipeline.process(try source.poll(maxRecords: 500, timeout: .zero))
    }
    pipeline.flush()
    try pipeline.checkpoint(createdAtMilliseconds: 1_000)
    return Run(pipeline: pipeline, store: store, metrics: metrics)
  }

  static func isSafeDomain(_ domain: String) -> Bool {
    let parts = domain.split(separator: "/", omittingEmptySubsequences: false)
    return parts.count == 2 && parts.allSatisfy { DomainName.isSafe(String($0)) }
  }

  static func counter(_ rendered: String, _ name: String) -> [String: Int] {
    var result: [String: Int] = [:]
    for line in rendered.split(separator: "\n") where line.hasPrefix(name + "{reason=\"") {
      let label = line.dropFirst(name.count + 9).prefix { $0 != "\"" }
      result[String(label)] = Int(Double(line.split(separator: " ").last!)!)
    }
    return result
  }

  @Test func tenThousandBadEventsChangeNothingButTheDeadLetterTopic() async throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-hostile-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let backbone = try Backbone(
      config: BackboneConfig(fields: ["user", "item"], buckets: 512, hiddenSizes: [16, 8]),
      seed: 3)
    let good = Self.goodLines(count: 2400)
    let hostile = HostileEvents(seed: 11)
    let mix = hostile.mixed(into: good, count: 10_400)
    let expected = mix.hostile.filter { $0.value.expectedRejection != nil }
    #expect(expected.count >= 10_000)
    // The mock broker keeps ~5 MB per partition and drops the oldest beyond: spread the dead
    // letters (no key, no sticky partitioning) over enough partitions to keep them all.
    let partitions = 12
    let limit = DeadLetterWriter.defaultMaxValueBytes
    let deadLetterBytes = expected.values.reduce(0) { $0 + min($1.bytes.count, limit) + 200 }
    #expect(deadLetterBytes / partitions < 2 * 1_048_576, "\(deadLetterBytes) bytes")

    let clean = try Self.run(
      good, folder: folder + "/clean", backbone: backbone, deadLetters: nil,
      metrics: MetricsRegistry())

    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("dead", partitions: partitions)
    let kafka = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let producer = try KafkaProducer.make(
      configuration: kafka.setting("sticky.partitioning.linger.ms", "0"))
    let metrics = MetricsRegistry()
    let writer = DeadLetterWriter(producer: producer, topic: "dead", metrics: metrics)
    let mixed = try Self.run(
      mix.lines, folder: folder + "/mixed", backbone: backbone, deadLetters: writer,
      metrics: metrics)
    try producer.close()

    // Counts: every line read, exactly the bad ones rejected, the accepted hostile ones trained.
    let report = ScenarioReport("hostile input")
    let accepted = mix.hostile.count - expected.count
    let counts = mixed.pipeline.counts
    report.check(counts.records == mix.lines.count, "records \(counts.records)")
    report.check(counts.rejected == expected.count, "rejected \(counts.rejected)")
    report.check(
      counts.examples == clean.pipeline.counts.examples + accepted, "examples \(counts.examples)")

    // The dead-letter topic holds each rejected event once, with its reason and origin.
    let letters = try KafkaTopicReader.readAll("dead", configuration: kafka, timeout: .seconds(60))
    report.check(letters.count == expected.count, "\(letters.count) dead letters on the topic")
    var seen = Set<Int>()
    var cut = 0
    for letter in letters {
      let offsetText = String(
        decoding: letter.header(named: "iak-source-offset") ?? [], as: UTF8.self)
      guard let offset = Int(offsetText), let event = expected[offset] else {
        report.check(false, "dead letter for an unexpected offset '\(offsetText)'")
        continue
      }
      report.check(seen.insert(offset).inserted, "line \(offset) dead-lettered twice")
      let reason = String(decoding: letter.header(named: "iak-reason") ?? [], as: UTF8.self)
      report.check(
        reason == event.expectedRejection?.rawValue,
        "line \(offset) (\(event.category)) has reason \(reason)")
      report.check(letter.header(named: "iak-source-topic") == Array("events".utf8), "topic")
      if let original = letter.header(named: "iak-truncated-from") {
        cut += 1
        report.check(
          String(decoding: original, as: UTF8.self) == String(event.bytes.count)
            && letter.value == Array(event.bytes.prefix(limit)), "line \(offset) cut wrongly")
      } else {
        report.check(letter.value == event.bytes, "line \(offset) value changed")
      }
    }
    report.check(cut == expected.values.filter { $0.bytes.count > limit }.count, "\(cut) cut")
    report.check(cut == 3, "\(cut) dead letters cut, expected the three 10 MB events")

    // Metrics agree: rejected by reason, dead letters by reason, the cut ones counted.
    let rendered = metrics.render()
    var byReason: [String: Int] = [:]
    for event in expected.values { byReason[event.expectedRejection!.rawValue, default: 0] += 1 }
    func counter(_ name: String) -> [String: Int] {
      Self.counter(rendered, name).filter { $0.value > 0 }
    }
    report.check(counter("iak_events_rejected_total") == byReason, "iak_events_rejected_total")
    report.check(counter("iak_dead_letters_total") == byReason, "iak_dead_letters_total")
    report.check(
      counter("iak_dead_letters_truncated_total") == ["oversize": 3],
      "iak_dead_letters_truncated_total")
    report.check(counter("iak_dead_letters_failed_total").isEmpty, "failed dead letters")

    // Kernels: every good domain bit-identical, every tensor finite, hostile domains safe.
    let cleanKernels = clean.pipeline.trainer.kernels
    let mixedKernels = mixed.pipeline.trainer.kernels
    report.check(cleanKernels.count >= 2, "\(cleanKernels.count) good domains")
    for (domain, kernel) in cleanKernels {
      let isIdentical =
        mixedKernels[domain].map { SafeTensors(tensors: $0.stateTensors()).encoded() }
        == SafeTensors(tensors: kernel.stateTensors()).encoded()
      report.check(isIdentical, "kernel \(domain) differs or is missing")
    }
    var floats = 0
    for (domain, kernel) in mixedKernels {
      report.check(Self.isSafeDomain(domain), "unsafe domain \(domain.debugDescription)")
      for (name, tensor) in kernel.stateTensors() {
        let values: [Double]
        switch tensor.dtype {
        case .f32: values = try tensor.floats().map(Double.init)
        case .f64: values = try tensor.doubles()
        default: continue
        }
        floats += values.count
        report.check(values.allSatisfy { $0.isFinite }, "\(domain) \(name) is not finite")
      }
    }
    let hostileDomains = Set(mixedKernels.keys).subtracting(cleanKernels.keys)
    report.check(hostileDomains.count > 20, "\(hostileDomains.count) hostile domains")

    // Snapshot tensor names and publish.dir files stay inside their namespaces and folders.
    let snapshot = try #require(try mixed.store.loadNewestValid(expectingBackbone: "bb").snapshot)
    for name in snapshot.payload.tensors.keys where !name.hasPrefix(".") {
      let domain = name.lastIndex(of: "/").map { String(name[..<$0]) } ?? ""
      report.check(mixedKernels[domain] != nil, "tensor \(name.debugDescription) names no domain")
    }
    let mixedFolder = folder + "/mixed"
    report.check(
      try FileManager.default.contentsOfDirectory(atPath: mixedFolder).sorted()
        == ["publish", "store"], "something was written beside publish.dir")
    let files = (FileManager.default.subpaths(atPath: mixedFolder + "/publish") ?? [])
      .filter { $0.hasSuffix(".safetensors") }
    report.check(
      Set(files.map { String($0.dropLast(".safetensors".count)) }) == Set(mixedKernels.keys),
      "publish.dir files are not one per domain")
    for file in files {
      let path = URL(fileURLWithPath: mixedFolder + "/publish/" + file).standardized.path
      report.check(path.hasPrefix(mixedFolder + "/publish/"), "\(path) escapes publish.dir")
      let loaded = try KernelFile.load(path)
      report.check(loaded.keys.first.map { $0 + ".safetensors" } == file, "\(file) metadata")
    }
    report.finish(
      did:
        "mixed \(mix.hostile.count) hostile events (\(expected.count) invalid, \(accepted) valid "
        + "with hostile regions or ids) into \(good.count) good lines through the Pipeline",
      checked:
        "dead-letter topic, reasons, metrics, good kernels bit-identical, all finite, safe "
        + "names in snapshot and publish.dir",
      figures:
        "\(letters.count) dead letters (\(cut) cut from 10 MB), \(cleanKernels.count) good "
        + "kernels identical, \(hostileDomains.count) hostile domains, \(floats) floats finite, "
        + "\(files.count) files")
  }

  @Test func theDatasetCommandWritesTheCorpusAndWhatTheDecoderOwes() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-hostile-cli-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let good = Self.goodLines(count: 50)
    try Data(good.flatMap { $0 + [0x0A] }).write(to: URL(fileURLWithPath: folder + "/good.jsonl"))
    for mixing in [false, true] {
      let out = CommandLineToolTests.Captured()
      let status = CommandLineTool.main(
        arguments: [
          "iak-stream", "dataset", "hostile", "--out", folder + "/hostile.jsonl", "--count", "400",
          "--seed", "5",
        ] + (mixing ? ["--mix-into", folder + "/good.jsonl"] : []),
        output: { out.write($0) }, errorOutput: { out.writeError($0) })
      #expect(status == 0, "\(out.errors)")
      let written = try [UInt8](Data(contentsOf: URL(fileURLWithPath: folder + "/hostile.jsonl")))
      let generator = HostileEvents(seed: 5)
      let events =
        mixing
        ? generator.mixed(into: good, count: 400).hostile.values.map { $0 }
        : generator.events(count: 400, timeMilliseconds: 1_704_067_200_000)
      let expected =
        mixing
        ? generator.mixed(into: good, count: 400).jsonLines
        : events.flatMap { $0.bytes + [0x0A] }
      #expect(written == expected)
      let rejected = events.filter { $0.expectedRejection != nil }.count
      #expect(out.output.contains("wrote 400 hostile events"), "\(out.output)")
      #expect(out.output.contains(": \(rejected) to reject (bad_timestamp "), "\(out.output)")
      #expect(out.output.contains(mixing ? "mixed into \(good.count) events" : "to accept"))
    }
  }
}

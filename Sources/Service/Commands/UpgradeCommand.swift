import Foundation
import Learner
import Stream
import Synchronization

extension CommandSpec {
  /// `iak-stream upgrade`: moves the running services to another backbone, through a switch
  /// record on every input partition.
  public static let upgrade = CommandSpec(
    name: "upgrade",
    summary: "Switch the running services to another backbone, kernels from zero",
    usage: "iak-stream upgrade --backbone DIR [--print] [--bootstrap-servers HOST:PORT]",
    details: """
      Checks the backbone in DIR (model.safetensors and config.json, as `pretrain` writes them)
      against the configuration: the same fields, and a layer at iak.insert_at the kernel fits.
      Then writes a switch record to every partition of every input topic (input.topics). The
      record names the backbone's sha256 and its folder, so DIR must be a path that every
      `serve` and `replay` of the group can read (a shared folder), and it must stay there.

      A pipeline that reads a partition's switch record stops that partition there: its next
      offset stays at the record, and what it reads after it waits. When every partition it
      holds has reached its own switch record, it loads the backbone, checks its sha256, and
      starts every kernel from zero on it. Kernels, open batches, waiting impressions and drift
      detectors start empty, as in a pipeline that starts at the switch. Offsets, counts and
      kernel version numbers go on, and the old domains are retired: their last kernels stay on
      the kernels topic, tagged with the old backbone's sha256. The next snapshot records the
      new backbone and its folder, and a restart loads that backbone instead of backbone.dir.
      The switch applies at the same offsets in every run and every replay of the input.

      Serving keeps the old backbone's kernels until new ones arrive: each published kernel
      names the backbone it was trained on. A switch that fails (the folder cannot be read, or
      it holds another sha256) is logged and counted (iak_backbone_switches_failed_total), and
      the old backbone goes on serving. Kernels are not re-based on the new backbone yet, so
      they start from zero on it (see docs/backbone-upgrade.md for what a re-base would give
      on MovieLens). Groups of several instances are not supported yet: a partition handed over
      across a switch is refused by the other backbone.

      --print writes the record's line to standard output instead: append it to a JSON-lines
      input (input.source = file, replay --input) where the switch should happen.
      """,
    options: [
      .value("--backbone", "DIR", "The backbone to switch to (required)"),
      .flag("--print", "Print the switch record's line instead of writing it to Kafka"),
      .value("--bootstrap-servers", "HOST:PORT", "Shortcut for --set kafka.bootstrap.servers=..."),
    ],
    run: { context in try UpgradeTool(context: context).run() })
}

/// The upgrade command's run.
struct UpgradeTool {
  let context: CommandContext

  func run() throws -> Int32 {
    let arguments = context.arguments
    let configuration = try context.configuration.overridingBootstrapServers(
      arguments.value("--bootstrap-servers"))
    let given = try arguments.required("--backbone")
    let directory = URL(fileURLWithPath: given).standardizedFileURL.path
    let backbone: Backbone
    do {
      backbone = try Backbone.load(from: directory)
    } catch {
      throw ServiceError(.io, "cannot load the backbone from \(directory): \(error)")
    }
    let fields = configuration.settings.backbone.fields
    guard backbone.config.fields == fields else {
      throw ServiceError(
        .configuration,
        "the backbone in \(directory) reads the fields \(backbone.config.fields), the "
          + "configuration's backbone.fields are \(fields): a switch keeps the fields")
    }
    do {
      try configuration.kernelConfig().validate(for: backbone.config)
    } catch {
      throw ServiceError(
        .configuration,
        "the kernel configured (iak.*) does not fit the backbone in "
          + "\(directory): \(error)")
    }
    let control = ControlRecord(switchingTo: backbone.weightsSHA256, directory: directory)
    if arguments.has("--print") {
      context.print(control.jsonLine)
      return 0
    }
    let topics = configuration.settings.input.topics
    guard !topics.isEmpty else {
      throw ServiceError(.configuration, "input.topics is empty: no partition to write to")
    }
    let consumer = try KafkaConsumer.make(configuration: configuration.kafkaConfiguration)
    defer { consumer.close() }
    let producer = try KafkaProducer.make(
      configuration: configuration.kafkaConfiguration, logger: context.logger.child("producer"))
    defer { try? producer.close() }
    let value = Array(control.jsonLine.utf8)
    var written: [String] = []
    for topic in topics {
      let count = try consumer.partitionCount(of: topic, timeout: .seconds(10))
      for partition in 0..<Int32(count) {
        let delivery = try Self.deliver(
          OutgoingRecord(topic: topic, partition: partition, value: value), with: producer)
        written.append("\(topic)/\(partition)@\(delivery.offset)")
      }
    }
    context.print(
      "wrote the switch to backbone \(control.backboneSHA256) (\(directory)) to "
        + "\(written.count) partitions: \(written.joined(separator: ", "))")
    return 0
  }

  /// Sends `record` and waits for its delivery.
  ///
  /// - Throws: `KafkaError` when it could not be sent or delivered.
  private static func deliver(_ record: OutgoingRecord, with producer: KafkaProducer) throws
    -> Delivery
  {
    let outcome = Mutex<Result<Delivery, KafkaError>?>(nil)
    let done = DispatchSemaphore(value: 0)
    try producer.send(record) { result in
      outcome.withLock { $0 = result }
      done.signal()
    }
    done.wait()
    return try outcome.withLock { $0! }.get()
  }
}

import Base
import Foundation
import Learner
import Stream
import Synchronization

extension CommandSpec {
  /// `iak-stream upgrade`: moves the running services to another backbone, through a switch
  /// record on every input partition.
  public static let upgrade = CommandSpec(
    name: "upgrade",
    summary: "Switch the running services to another backbone, its kernels re-based or from zero",
    usage:
      "iak-stream upgrade --backbone DIR [--rebase-window DURATION | --rebase-from-time TIME] "
      + "[--switch-after DURATION] [--abandon] [--rollback] [--print [--rebase-from-offset LINE]] "
      + "[--bootstrap-servers HOST:PORT]",
    details: """
      Checks the backbone in DIR (model.safetensors and config.json, as `pretrain` writes them)
      against the configuration: the same fields, and a layer at iak.insert_at the kernel fits.
      Then writes a switch record to every partition of every input topic (input.topics). The
      record names the backbone's sha256 and its folder, so DIR must be a path that every
      `serve` and `replay` of the group can read (a shared folder), and it must stay there.

      A pipeline that reads a partition's switch record stops that partition there: its next
      offset stays at the record, and what it reads after it waits. When every partition it
      reads has reached its own switch record, it loads the backbone and checks its sha256.
      Then it re-bases: its new state (kernels, open batches, waiting impressions, drift
      detectors) is what a pipeline started empty on the new backbone holds after reading each
      partition's re-base window again, from the record's rebase_from up to the switch record.
      Without a window, every kernel starts from zero at the switch, and the impressions waiting
      for their labels carry over (they train the new kernels). Offsets, counts and kernel
      version numbers go on, and the old domains are retired: their last kernels stay on the
      kernels topic, tagged with the old backbone's sha256. The next snapshot records the new
      backbone and its folder, and a restart loads that backbone instead of backbone.dir. The
      switch applies at the same offsets, with the same windows, in every run and every replay
      of the input.

      The window: --rebase-window (a duration back from now) or --rebase-from-time (a time),
      looked up per partition in the records' Kafka timestamps when the switch records are
      written, and carried in each record as an offset. The re-base reads the window again
      with a consumer outside the group. By default it does so at the switch, while the
      partitions wait: serve reads the windows on a thread of its own meanwhile (its training
      loop, checkpoints and health go on), replay reads them at once. With --switch-after, upgrade first writes an announcement
      (backbone-prepare) with the same windows: each serve then re-bases in the background,
      on a thread of its own, following the live input while it goes on training and
      publishing on the old backbone (iak_backbone_rebase_lag_records), and the switch records
      follow after DURATION. The switch then only finishes the re-base. Interrupted while it
      waits (SIGINT, SIGTERM), upgrade withdraws the announcement (backbone-abandon records):
      the background re-bases stop and nothing switches; --abandon does the same for an
      announcement left by an upgrade that was killed. On MovieLens a re-base did not beat
      kernels from zero (docs/backbone-upgrade.md); the default is no window.

      Serving keeps the old backbone's kernels until new ones arrive: each published kernel
      names the backbone it was trained on. A switch that fails (the folder cannot be read, or
      it holds another sha256) is logged and counted (iak_backbone_switches_failed_total), and
      the old backbone goes on serving. In a group each member switches when its own
      partitions have reached their records; a partition handed over between a member that has
      switched and one that has not is held, or re-based alone at its record (README).

      --rollback switches back to a backbone the services left, resuming the state they kept of
      it (checkpoint.keep_previous_backbone = true: each partition's kernels, batches, waiting
      impressions and drift detectors as they were at its switch record). Each partition's
      kept state is caught up on the records since, read again like a re-base window, so the
      kernels after a rollback are those of a run that never switched. A partition with no
      kept state (the setting was off, or a second switch came since) falls back to the
      window given, or to kernels from zero. It goes with neither --switch-after nor
      --abandon.

      --print writes the record's line to standard output instead: put it into a JSON-lines
      input (input.source = file, replay --input) where the switch should happen, with the
      first line of its re-base window as --rebase-from-offset.
      """,
    options: [
      .value("--backbone", "DIR", "The backbone to switch to (required)"),
      .value("--rebase-window", "DURATION", "Re-base over this much history (e.g. 7d)"),
      .value("--rebase-from-time", "TIME", "Re-base over the records from TIME on"),
      .value(
        "--switch-after", "DURATION",
        "Announce first, re-base in the background, switch after DURATION"),
      .flag("--abandon", "Withdraw an announced switch to this backbone (no switch)"),
      .flag(
        "--rollback",
        "Switch back to this backbone's kept state (checkpoint.keep_previous_backbone)"),
      .flag("--print", "Print the switch record's line instead of writing it to Kafka"),
      .value("--rebase-from-offset", "LINE", "With --print: the re-base window's first line"),
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
    let sha = backbone.weightsSHA256
    let windowStart = try Self.windowStart(arguments)
    let isRollback = arguments.has("--rollback")
    if isRollback && (arguments.has("--abandon") || arguments.value("--switch-after") != nil) {
      throw UsageError(
        "--rollback goes with neither --abandon nor --switch-after: a rollback catches the kept "
          + "state up at the switch")
    }
    if arguments.has("--print") {
      if windowStart != nil {
        throw UsageError("with --print, give the window as --rebase-from-offset LINE")
      }
      let from = try arguments.value("--rebase-from-offset").map { text throws(UsageError) in
        guard let line = Int64(text), line >= 0 else {
          throw UsageError("--rebase-from-offset expects a line number, got '\(text)'")
        }
        return line
      }
      context.print(
        ControlRecord(
          switchingTo: sha, directory: directory, rebaseFrom: from, isRollback: isRollback
        ).jsonLine)
      return 0
    }
    if arguments.value("--rebase-from-offset") != nil {
      throw UsageError("--rebase-from-offset goes with --print; on Kafka give a window or time")
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
    // Each partition's window start, looked up once: the announcement and the switch carry
    // the same.
    var partitions: [(TopicPartition, Int64?)] = []
    for topic in topics {
      let count = try consumer.partitionCount(of: topic, timeout: .seconds(10))
      let starts = try windowStart.map {
        try consumer.offsets(atTimestamp: $0, topic: topic, timeout: .seconds(30))
      }
      for partition in 0..<Int32(count) {
        let topicPartition = TopicPartition(topic: topic, partition: partition)
        partitions.append((topicPartition, starts?[topicPartition]))
      }
    }
    func write(_ action: ControlRecord.Action) throws -> String {
      var written: [String] = []
      for (partition, from) in partitions {
        let control = ControlRecord(
          switchingTo: sha, directory: directory, rebaseFrom: from, action: action,
          isRollback: isRollback && action == .backboneSwitch)
        let delivery = try Self.deliver(
          OutgoingRecord(
            topic: partition.topic, partition: partition.partition,
            value: Array(control.jsonLine.utf8)), with: producer)
        written.append(
          "\(partition.topic)/\(partition.partition)@\(delivery.offset)"
            + (from.map { " (re-base from \($0))" } ?? ""))
      }
      return "\(written.count) partitions: " + written.joined(separator: ", ")
    }
    if arguments.has("--abandon") {
      // Written whether or not a switch was announced (reading every partition back to find
      // out could take hours, or wait on transaction markers): an abandon with nothing open
      // changes nothing, so the words say what was written, not what it withdrew.
      context.print(
        "wrote backbone-abandon records for backbone \(sha) to "
          + (try write(.backboneAbandon))
          + "; a switch to it announced and not yet made is withdrawn (where none was, nothing "
          + "changes)")
      return 0
    }
    if let wait = try Self.switchAfter(arguments, hasWindow: windowStart != nil) {
      context.print(
        "announced the switch to backbone \(sha) (\(directory)) to " + (try write(.backbonePrepare))
          + "; the services re-base in the background; the switch follows in \(wait / 1000) s")
      let deadline = Date().addingTimeInterval(Double(wait) / 1000)
      var lastNote = Date()
      while Date() < deadline {
        if context.shutdown.isRequested {
          context.print(
            "stopped before the switch: withdrew the announcement from "
              + (try write(.backboneAbandon)) + "; the old backbone goes on")
          return 1
        }
        if Date().timeIntervalSince(lastNote) >= 10 {
          context.logger.info(
            "waiting to write the switch records",
            ["seconds_left": "\(Int(deadline.timeIntervalSinceNow.rounded()))"])
          lastNote = Date()
        }
        Thread.sleep(forTimeInterval: 0.2)
      }
    }
    context.print(
      "wrote the \(isRollback ? "rollback" : "switch") to backbone \(sha) (\(directory)) to "
        + (try write(.backboneSwitch)))
    return 0
  }

  /// `--switch-after` in milliseconds, if given.
  ///
  /// - Throws: `UsageError` when it does not parse, or there is no window to re-base.
  private static func switchAfter(_ arguments: ParsedArguments, hasWindow: Bool) throws(UsageError)
    -> Int64?
  {
    guard let text = arguments.value("--switch-after") else { return nil }
    guard let milliseconds = ConfigValueParser.milliseconds(text), milliseconds > 0 else {
      throw UsageError("--switch-after expects a duration such as 10m or 30s, got '\(text)'")
    }
    guard hasWindow else {
      throw UsageError(
        "--switch-after goes with a re-base window (--rebase-window or "
          + "--rebase-from-time): without one there is nothing to prepare")
    }
    return milliseconds
  }

  /// The re-base window's start in milliseconds since the epoch, if one is asked for.
  ///
  /// - Throws: `UsageError` for both options, or a value that does not parse.
  private static func windowStart(_ arguments: ParsedArguments) throws(UsageError) -> Int64? {
    let window = arguments.value("--rebase-window")
    let time = arguments.value("--rebase-from-time")
    if window != nil && time != nil {
      throw UsageError("give --rebase-window or --rebase-from-time, not both")
    }
    if let window {
      guard let milliseconds = ConfigValueParser.milliseconds(window), milliseconds > 0 else {
        throw UsageError("--rebase-window expects a duration such as 7d or 12h, got '\(window)'")
      }
      return Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) - milliseconds
    }
    return try time.flatMap { text throws(UsageError) in
      try CommandSpec.parseTime(text, option: "--rebase-from-time")
    }
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

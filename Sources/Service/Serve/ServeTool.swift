import Checkpoint
import Dispatch
import Foundation
import Learner
import Observability
import Stream

/// The run of `iak-stream serve`: restore, then a consumer thread (this one) feeding a training
/// thread through a bounded queue, until SIGTERM, a fatal error, the end of a file input, or
/// (with `--exit-when-idle`) a quiet input.
struct ServeTool {
  let context: CommandContext
  /// Where the training thread keeps its exact freshness figures (a benchmark passes its own,
  /// larger one; a service keeps the newest 10,000 pairs, not a million).
  var freshness = FreshnessLog(limit: 10_000)
  /// Failures to inject into the snapshot store (tests of a disk that fills); none in service.
  var storageFaults = StorageFaults.none

  func run() throws -> Int32 {
    let arguments = context.arguments
    let configuration = try context.configuration.overridingBootstrapServers(
      arguments.value("--bootstrap-servers"))
    let logger = context.logger
    let idleExit = try Self.idleExit(arguments.value("--exit-when-idle"))
    let offsetResetPolicy = try OffsetResetPolicy.parse(arguments.value("--on-offset-reset"))
    let metrics = ServeMetrics(context.metrics)
    let health = HealthState(
      maxLag: configuration.int("health.max_lag"),
      maxCheckpointAge: .milliseconds(configuration.milliseconds("health.max_checkpoint_age")),
      maxBrokerSilence: .milliseconds(configuration.milliseconds("health.max_broker_silence")))
    let endpoint = try MetricsServer.start(
      configuration: configuration, registry: context.metrics, health: health, logger: logger)
    defer { withExtendedLifetime(endpoint) {} }

    let backbone = try Self.loadBackbone(
      arguments.value("--backbone") ?? configuration.string("backbone.dir"))
    let sha = backbone.weightsSHA256
    let store = try SnapshotStore(
      directory: configuration.string("checkpoint.dir"),
      keep: configuration.int("checkpoint.keep"), faults: storageFaults)
    // A read-only or already locked folder is refused now, not at the first snapshot.
    try store.claimWriting()
    // What a killed predecessor's snapshot write left is gone now: say so (a crash happened).
    for path in store.removedLeftovers {
      logger.warning("removed what an interrupted snapshot write left", ["path": path])
    }
    for failure in store.cleanupFailures {
      logger.warning(
        "could not remove what an interrupted snapshot write left", ["error": "\(failure)"])
    }
    let isKafka = configuration.string("input.source") == "kafka"
    if isKafka {
      // A cluster that never answers CreateTopics (the mock broker) costs at most this wait.
      _ = try ServiceTopics.ensure(
        configuration: configuration, logger: logger.child("topics"), timeout: .seconds(10))
    }
    let producer =
      isKafka
      ? try KafkaProducer.make(
        configuration: configuration.kafkaConfiguration,
        logger: logger.child("producer"), metrics: context.metrics)
      : nil
    if let producer {
      // The first checkpoint's publish then goes out at once, not after a metadata round.
      let topics = [
        "publish.topic", "alert.topic", "input.dead_letter_topic", "checkpoint.state_topic",
      ]
      .map { configuration.string($0) }.filter { !$0.isEmpty }
      do {
        try producer.prepare(topics: topics)
      } catch {
        logger.warning(
          "could not look up the output topics; the first sends wait for metadata",
          ["error": error.description])
      }
    }
    let publishFolder = configuration.string("publish.dir")
    if !publishFolder.isEmpty {
      let (removed, failures) = KernelPublisher.removeLeftovers(in: publishFolder)
      for path in removed {
        logger.warning("removed what an interrupted kernel file write left", ["path": path])
      }
      for failure in failures {
        logger.warning(
          "could not remove what an interrupted kernel file write left", ["error": failure])
      }
    }
    let webhook = try AlertWebhook.make(
      configuration: configuration, logger: logger.child("webhook"), metrics: context.metrics)
    let deadLetterTopic = configuration.string("input.dead_letter_topic")
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: sha, store: store,
      publisher: KernelPublisher(
        producer: producer, topic: configuration.string("publish.topic"),
        folder: Self.nonEmpty(configuration.string("publish.dir")), backboneSHA256: sha,
        kernelConfig: try configuration.kernelConfig(), logger: logger.child("publish"),
        metrics: context.metrics),
      alertEmitter: AlertEmitter(
        producer: producer, topic: configuration.string("alert.topic"),
        logger: logger.child("drift"), metrics: context.metrics, webhook: webhook),
      deadLetters: producer.flatMap { producer in
        deadLetterTopic.isEmpty
          ? nil
          : DeadLetterWriter(
            producer: producer, topic: deadLetterTopic, logger: logger.child("dead-letters"),
            metrics: context.metrics)
      },
      logger: logger, metrics: context.metrics)
    pipeline.keepsAlertHistory = false
    if isKafka {
      // Live input: nothing can have happened more than event.max_future after now.
      pipeline.wallClock = { Int64((Date().timeIntervalSince1970 * 1000).rounded(.down)) }
    }
    let restored = try restore(pipeline, from: store, backboneSHA256: sha, metrics: metrics)
    if let restored {
      // A process killed between a snapshot's commit and the end of its publish never
      // delivered that snapshot's kernels: the first checkpoint publishes them again, under the
      // versions the snapshot records. One whose publish completed owes nothing.
      let owed = pipeline.owePublishingUnlessDelivered(snapshotVersion: restored.version)
      if owed > 0 {
        logger.info(
          "the restored snapshot's publish is not known to have completed; its kernels go out "
            + "again under the same versions", ["kernels": "\(owed)"])
      }
    }
    // Until the first snapshot of this run, the newest durable state is the restored one (or
    // nothing yet to cover): never 0, which would read as "stale since 1970".
    metrics.lastSnapshot.set(
      restored?.createdAt.timeIntervalSince1970 ?? Date().timeIntervalSince1970)

    let timeout = Double(configuration.milliseconds("shutdown.timeout")) / 1000
    let queue = RecordQueue(capacity: configuration.int("input.queue_capacity"))
    let stateTopicName = configuration.string("checkpoint.state_topic")
    let stateTopic = try producer.flatMap { producer in
      stateTopicName.isEmpty
        ? nil
        : try PartitionStateTopic(
          topic: stateTopicName, group: configuration.string("input.group_id"),
          producer: producer, configuration: configuration.kafkaConfiguration,
          logger: logger.child("state-topic"), metrics: context.metrics,
          transactional: configuration.bool("checkpoint.transactions"))
    }
    let responder = RebalanceResponder(
      queue: queue, metrics: metrics, logger: logger.child("rebalance"), timeoutSeconds: timeout,
      stateTopic: stateTopic, offsetResetPolicy: offsetResetPolicy)
    let source = try makeSource(configuration, pipeline: pipeline, responder: responder)
    // A partition's log start and end, asked of its leader: offsets that went backwards below
    // the trained state's (a topic created again) are told from records read again.
    let watermarks = (source as? KafkaRecordSource).map { kafka in
      let consumer = kafka.consumer
      let lookupLogger = logger.child("offsets")
      return { @Sendable (partition: KafkaPartition) -> (low: Int64, high: Int64)? in
        do {
          return try consumer.watermarks(of: partition, timeout: .seconds(10))
        } catch {
          lookupLogger.warning(
            "could not ask a partition's log start and end; its offsets are not checked",
            ["partition": partition.description, "error": "\(error)"])
          return nil
        }
      }
    }
    if let watermarks { responder.attach(watermarks: watermarks) }
    let loop = TrainingLoop(
      pipeline: pipeline, source: source, queue: queue, metrics: metrics,
      interval: configuration.interval("checkpoint.interval"), logger: logger.child("train"),
      freshness: freshness, stateTopic: stateTopic, owesDelivery: restored != nil,
      health: health, restored: restored, offsetResetPolicy: offsetResetPolicy,
      watermarks: watermarks)
    responder.attach(loop)
    // With a state topic other members may own a partition this process still holds: alerts
    // wait for a checkpoint that the group confirmed (`Pipeline.defersAlerts`).
    pipeline.defersAlerts = stateTopic != nil
    let thread = Thread { loop.run() }
    thread.name = "iak-training"
    thread.stackSize = 16 << 20
    thread.start()
    health.markRestored()
    logger.info(
      "serving",
      [
        "source": isKafka ? configuration.list("input.topics").joined(separator: ",") : "file",
        "group": configuration.string("input.group_id"),
        "checkpoint_dir": store.directory,
        "state_topic": stateTopic?.topic ?? "none (a single instance)",
      ])

    let probe =
      isKafka
      ? BrokerProbe(
        configuration: configuration.kafkaConfiguration, health: health,
        metrics: context.metrics) : nil
    defer { probe?.stop() }
    let consumer = ConsumerLoop(
      source: source, queue: queue, training: loop, responder: responder, metrics: metrics,
      health: health, shutdown: context.shutdown, logger: logger,
      pollTimeout: .milliseconds(configuration.milliseconds("input.poll_timeout")),
      idleExit: idleExit)
    let ending = consumer.run()

    // Shutdown: finish what is in flight, snapshot, publish, commit, leave the group.
    let watchdog = DispatchWorkItem {
      logger.error(
        "shutdown did not finish within shutdown.timeout; exiting without a clean stop",
        ["timeout_seconds": Logger.figure(timeout)])
      exit(1)
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    logger.info("stopping", ["reason": ending.reason])
    if loop.isRunning {
      if !ending.trainsQueuedRecords {
        let dropped = queue.discardRecords()
        if dropped > 0 {
          logger.info(
            "records read but not trained are left for the next start (not committed)",
            ["records": "\(dropped)"])
        }
      }
      let stop = ServeRequest(.stop)
      queue.submit(stop)
      _ = stop.wait(seconds: timeout)
    }
    while loop.isRunning { Thread.sleep(forTimeInterval: 0.01) }
    source.close()
    responder.detach()
    stateTopic?.transactions?.closeAll()
    if let producer {
      do {
        try producer.flush(timeout: .seconds(max(1, Int(timeout / 2))))
      } catch {
        logger.error("records were still in flight at exit", ["error": error.description])
      }
    }
    if let webhook, !webhook.flush(timeout: .seconds(max(1, Int(timeout / 4)))) {
      logger.warning("alert webhook posts were still pending at exit")
    }
    watchdog.cancel()
    let counts = pipeline.counts
    if (loop.coveredState?.records ?? 0) == counts.records {
      context.print(
        "served \(counts.records) records (\(counts.rejected) rejected) into \(counts.examples) "
          + "examples over \(pipeline.trainer.domains.count) domains; snapshots in "
          + store.directory)
    } else {
      // Only what a snapshot holds counts as served: the rest is read again at the next start.
      let covered = loop.coveredState
      context.print(
        "read \(counts.records) records, of which \(covered?.records ?? 0) are covered by a "
          + "snapshot (\(covered.map { "version \($0.version), offsets \($0.offsetsDescription)" } ?? "none")); "
          + "the rest are read again at the next start; snapshots in \(store.directory)")
    }
    if let failure = loop.failure ?? ending.failure {
      logger.error("stopped after a failure", ["error": failure])
      return 1
    }
    return 0
  }

  /// Restores the newest valid snapshot; returns its manifest (nil: starting empty).
  private func restore(
    _ pipeline: Pipeline, from store: SnapshotStore, backboneSHA256: String,
    metrics: ServeMetrics
  ) throws -> SnapshotManifest? {
    let result = try store.loadNewestValid(
      expectingBackbone: backboneSHA256, accepting: Pipeline.payloadProblem)
    if let problem = result.latestProblem {
      context.logger.warning("LATEST is not what it should be", ["problem": problem])
    }
    for skipped in result.skipped {
      metrics.skippedSnapshots.increment()
      context.logger.warning(
        "skipped a snapshot that failed its checks",
        ["version": "\(skipped.version)", "reason": "\(skipped.error)"])
    }
    guard let snapshot = result.snapshot else {
      if let newest = result.skipped.first {
        throw UsageError(
          "no valid snapshot in \(store.directory): the newest, version \(newest.version), "
            + "\(newest.error); fix the cause (backbone.dir, the files) or move the folder "
            + "away to start empty")
      }
      context.logger.info("no snapshot yet: starting empty", ["dir": store.directory])
      return nil
    }
    try pipeline.restore(snapshot)
    context.logger.info(
      "restored",
      [
        "snapshot": "\(snapshot.manifest.version)", "domains": "\(pipeline.trainer.domains.count)",
        "records": "\(pipeline.counts.records)", "partitions": "\(pipeline.offsets.count)",
      ])
    return snapshot.manifest
  }

  private func makeSource(
    _ configuration: Configuration, pipeline: Pipeline, responder: RebalanceResponder
  ) throws -> any RecordSource {
    guard configuration.string("input.source") == "kafka" else {
      let path = configuration.string("input.file")
      guard !path.isEmpty else {
        throw UsageError("input.source = file needs input.file (a JSON-lines event file)")
      }
      let partition = KafkaPartition(topic: "file", partition: 0)
      return try FileRecordSource(
        url: URL(fileURLWithPath: path), topic: "file",
        startOffset: pipeline.offsets[partition] ?? 0)
    }
    let topics = configuration.list("input.topics")
    guard !topics.isEmpty else { throw UsageError("input.topics is empty: nothing to consume") }
    let kafka = configuration.kafkaConfiguration.setting(
      "auto.offset.reset", configuration.string("input.start"))
    return try KafkaRecordSource.subscribing(
      to: topics, groupID: configuration.string("input.group_id"), configuration: kafka,
      logger: context.logger.child("consumer"), metrics: context.metrics,
      onRebalance: { event, consumer in responder.handle(event, consumer: consumer) },
      startOffset: { responder.startOffset(of: $0) })
  }

  private static func loadBackbone(_ directory: String) throws -> Backbone {
    do {
      return try Backbone.load(from: directory)
    } catch {
      throw UsageError(
        "cannot load the backbone from \(directory): \(error); pretrain one with "
          + "`iak-stream pretrain --input EVENTS --out \(directory)` or set backbone.dir")
    }
  }

  private static func idleExit(_ text: String?) throws -> Duration? {
    guard let text else { return nil }
    guard let milliseconds = ConfigValueParser.milliseconds(text), milliseconds > 0 else {
      throw UsageError("--exit-when-idle \(text): expected a duration such as 5s or 500ms")
    }
    return .milliseconds(milliseconds)
  }

  private static func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }
}

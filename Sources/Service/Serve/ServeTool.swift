import Base
import Checkpoint
import Dispatch
import Foundation
import HTTP
import Learner
import Observability
import Stream

/// The run of `iak-stream serve`, in the order it happens:
///
/// 1. start: settings, health and metrics endpoint, snapshot store, topics, producer, pipeline,
///    restore (`start()`);
/// 2. assign and rebalance: the source joins the group, and the rebalance responder starts
///    each gained partition at its state's offset and checkpoints before one is taken away
///    (`connect(_:)`);
/// 3. loop: a consumer thread (this one) feeds a training thread through a bounded queue, until
///    SIGTERM, a fatal error, the end of a file input, or (with `--exit-when-idle`) a quiet
///    input (`ConsumerLoop`, `TrainingLoop`);
/// 4. checkpoint: every `checkpoint.interval` and at each rebalance, on the training thread;
/// 5. shutdown: the final checkpoint, then the clients are closed and the outcome reported
///    (`shutDown(_:_:after:)`).
struct ServeTool {
  let context: CommandContext
  /// What a benchmark watches of the training thread (none in service).
  var observer: (any TrainingObserver)?
  /// Failures to inject into the snapshot store (tests of a disk that fills); none in service.
  var storageFaults = StorageFaults.none

  /// Creates the run of `serve` in `context`, watched by `observer` (benchmarks).
  init(context: CommandContext, observer: (any TrainingObserver)? = nil) {
    self.context = context
    self.observer = observer
  }

  /// Serves until asked to stop or a failure; returns the exit status (0: a clean stop with
  /// everything trained in a snapshot, 1: a failure).
  ///
  /// - Throws: `UsageError`, `ConfigError` or `ServiceError` when the service cannot start.
  func run() throws -> Int32 {
    // 1. Start: settings, endpoint, store, topics, producer, pipeline, restored state.
    let service = try start()
    defer { withExtendedLifetime(service.endpoint) {} }
    // 2. Assign and rebalance: the source, its rebalance responder, the training loop.
    let serving = try connect(service)
    // 3. Loop (and 4. checkpoint, on the training thread): train on one thread, poll on this
    // one until something ends the run.
    serving.startTraining()
    service.health.markRestored()
    service.logger.info(
      "serving",
      [
        "source": service.isKafka
          ? service.configuration.settings.input.topics.joined(separator: ",") : "file",
        "group": service.configuration.settings.input.groupID,
        "checkpoint_dir": service.store.directory,
        "state_topic": serving.stateTopic?.topic ?? "none (a single instance)",
      ])
    let probe =
      service.isKafka
      ? BrokerProbe(
        configuration: service.configuration.kafkaConfiguration, health: service.health,
        metrics: context.metrics) : nil
    defer { probe?.stop() }
    let ending = ConsumerLoop(
      source: serving.source, queue: serving.queue, training: serving.loop,
      responder: serving.responder, metrics: service.metrics, health: service.health,
      shutdown: context.shutdown, logger: service.logger,
      pollTimeout: service.configuration.settings.input.pollTimeout,
      idleExit: service.idleExit
    ).run()
    // 5. Shutdown: the final checkpoint, the clients closed, the outcome reported.
    return shutDown(service, serving, after: ending)
  }

  /// Step 1: reads the settings, starts the metrics endpoint, claims the snapshot folder,
  /// makes the topics and the producer, builds the pipeline and restores its newest snapshot.
  private func start() throws -> Service {
    let arguments = context.arguments
    let configuration = try context.configuration.overridingBootstrapServers(
      arguments.value("--bootstrap-servers"))
    let logger = context.logger
    let idleExit = try Self.idleExit(arguments.value("--exit-when-idle"))
    let offsetResetPolicy = try OffsetResetPolicy.parse(arguments.value("--on-offset-reset"))
    let inputFile = configuration.settings.input.file
    if configuration.settings.input.source == .file && !inputFile.isEmpty {
      try InputFile.check(inputFile, named: "input.file")
    }
    let metrics = ServeMetrics(context.metrics)
    let health = HealthState(
      maxLag: configuration.settings.health.maxLag,
      maxCheckpointAge: configuration.settings.health.maxCheckpointAge,
      maxBrokerSilence: configuration.settings.health.maxBrokerSilence)
    let endpoint = try MetricsServer.start(
      configuration: configuration, registry: context.metrics, health: health, logger: logger)
    if let file = arguments.value("--metrics-address-file") {
      try MetricsServer.writeAddress(of: endpoint, to: file)
    }

    let store = try openStore(configuration)
    let choice = try BackboneChoice.choose(
      configured: arguments.value("--backbone") ?? configuration.settings.backbone.dir,
      store: store, logger: logger)
    let backbone = choice.backbone
    let sha = choice.sha256
    let isKafka = configuration.settings.input.source == .kafka
    if isKafka {
      // A cluster that never answers CreateTopics (the mock broker) costs at most this wait.
      _ = try ServiceTopics.ensure(
        configuration: configuration, logger: logger.child("topics"), timeout: .seconds(10))
    }
    let producer = isKafka ? try makeProducer(configuration) : nil
    let publishFolder = configuration.settings.publish.dir
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
    let pipeline = try makePipeline(
      configuration, backbone: backbone, store: store, producer: producer, webhook: webhook)
    pipeline.backboneDirectory = choice.directory
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
    return Service(
      configuration: configuration, logger: logger, idleExit: idleExit,
      offsetResetPolicy: offsetResetPolicy, metrics: metrics, health: health, endpoint: endpoint,
      store: store, isKafka: isKafka, producer: producer, webhook: webhook, pipeline: pipeline,
      restored: restored,
      timeout: Double(configuration.settings.shutdown.timeout.wholeMilliseconds) / 1000)
  }

  /// Step 2: the state topic, the rebalance responder, the source (which joins the group and
  /// asks the responder where each gained partition starts) and the training loop.
  private func connect(_ service: Service) throws -> Serving {
    let configuration = service.configuration
    let logger = service.logger
    let queue = RecordQueue(capacity: configuration.settings.input.queueCapacity)
    let stateTopicName = configuration.settings.checkpoint.stateTopic
    let stateTopic = try service.producer.flatMap { producer in
      stateTopicName.isEmpty
        ? nil
        : try PartitionStateTopic(
          topic: stateTopicName, group: configuration.settings.input.groupID,
          producer: producer, configuration: configuration.kafkaConfiguration,
          logger: logger.child("state-topic"), metrics: context.metrics,
          transactional: configuration.settings.checkpoint.transactions,
          outputTopics: configuration.settings.outputTopics)
    }
    let responder = RebalanceResponder(
      queue: queue, metrics: service.metrics, logger: logger.child("rebalance"),
      timeoutSeconds: service.timeout, stateTopic: stateTopic,
      offsetResetPolicy: service.offsetResetPolicy)
    let source = try makeSource(configuration, pipeline: service.pipeline, responder: responder)
    service.pipeline.history = Pipeline.history(
      of: source, kafka: configuration.kafkaConfiguration)
    service.pipeline.rebasesInBackground = true
    let watermarks = Self.watermarks(of: source, logger: logger.child("offsets"))
    if let watermarks { responder.attach(watermarks: watermarks) }
    let loop = TrainingLoop(
      pipeline: service.pipeline, source: source, queue: queue, metrics: service.metrics,
      interval: configuration.settings.checkpoint.interval, logger: logger.child("train"),
      observer: observer, stateTopic: stateTopic, owesDelivery: service.restored != nil,
      health: service.health, restored: service.restored,
      offsetResetPolicy: service.offsetResetPolicy, watermarks: watermarks)
    responder.attach(loop)
    if let observer, observer.watchesTrainedImpressions {
      service.pipeline.trainedImpressionSink = { observer.trainedImpressions(eventTimesMs: $0) }
    }
    // With a state topic other members may own a partition this process still holds: alerts
    // wait for a checkpoint that the group confirmed (`Pipeline.defersAlerts`).
    service.pipeline.defersAlerts = stateTopic != nil
    return Serving(
      queue: queue, stateTopic: stateTopic, responder: responder, source: source, loop: loop)
  }

  /// Step 5: finishes what is in flight, takes the final checkpoint (snapshot, publish,
  /// commit), leaves the group, flushes the outputs and reports; returns the exit status.
  private func shutDown(_ service: Service, _ serving: Serving, after ending: ConsumerLoop.Ending)
    -> Int32
  {
    let logger = service.logger
    let timeout = service.timeout
    let watchdog = DispatchWorkItem {
      logger.error(
        "shutdown did not finish within shutdown.timeout; exiting without a clean stop",
        ["timeout_seconds": Logger.figure(timeout)])
      exit(1)
    }
    DispatchQueue.global().asyncAfter(deadline: .now() + timeout, execute: watchdog)
    logger.info("stopping", ["reason": ending.reason])
    let loop = serving.loop
    if !loop.hasEnded {
      if !ending.trainsQueuedRecords {
        let dropped = serving.queue.discardRecords()
        if dropped > 0 {
          logger.info(
            "records read but not trained are left for the next start (not committed)",
            ["records": "\(dropped)"])
        }
      }
      // A file read to its end: nothing more will come, so a switch waiting for its re-base is
      // made before the final checkpoint. From Kafka it is left to the next start (the wait
      // could outlast shutdown.timeout).
      if ending.trainsQueuedRecords && !service.isKafka { loop.completesASwitchBeforeStopping() }
      serving.queue.submit(ServeRequest(.stop))
    }
    // The watchdog bounds this wait.
    loop.waitUntilEnded()
    serving.source.close()
    serving.responder.detach()
    serving.stateTopic?.transactions?.closeAll()
    if let producer = service.producer {
      do {
        try producer.flush(timeout: .seconds(max(1, Int(timeout / 2))))
      } catch {
        logger.error("records were still in flight at exit", ["error": error.description])
      }
    }
    if let webhook = service.webhook, !webhook.flush(timeout: .seconds(max(1, Int(timeout / 4)))) {
      logger.warning("alert webhook posts were still pending at exit")
    }
    watchdog.cancel()
    report(service.pipeline, covered: loop.coveredState, store: service.store)
    if let failure = loop.failure ?? ending.failure {
      logger.error("stopped after a failure", ["error": failure.message])
      return 1
    }
    return 0
  }

  // MARK: Helpers, in the order the steps use them, then what the steps hand on

  /// The `--exit-when-idle` duration, if given.
  ///
  /// - Throws: `UsageError` when it is not a positive duration.
  private static func idleExit(_ text: String?) throws -> Duration? {
    guard let text else { return nil }
    guard let milliseconds = ConfigValueParser.milliseconds(text), milliseconds > 0 else {
      throw UsageError("--exit-when-idle \(text): expected a duration such as 5s or 500ms")
    }
    return .milliseconds(milliseconds)
  }

  /// Opens `checkpoint.dir`, refusing a read-only or already locked folder now rather than at
  /// the first snapshot, and says what a killed predecessor's snapshot write left (a crash
  /// happened).
  private func openStore(_ configuration: Configuration) throws -> SnapshotStore {
    let store = try SnapshotStore(
      directory: configuration.settings.checkpoint.dir,
      keep: configuration.settings.checkpoint.keep, faults: storageFaults)
    try store.claimWriting()
    for path in store.removedLeftovers {
      context.logger.warning("removed what an interrupted snapshot write left", ["path": path])
    }
    for failure in store.cleanupFailures {
      context.logger.warning(
        "could not remove what an interrupted snapshot write left", ["error": "\(failure)"])
    }
    return store
  }

  /// The producer of the kernels, alerts, dead letters and partition states, with the output
  /// topics' metadata looked up so that the first checkpoint's publish goes out at once.
  private func makeProducer(_ configuration: Configuration) throws -> KafkaProducer {
    let producer = try KafkaProducer.make(
      configuration: configuration.kafkaConfiguration,
      logger: context.logger.child("producer"), metrics: context.metrics)
    let topics = configuration.settings.outputTopics
    do {
      try producer.prepare(topics: topics)
    } catch {
      context.logger.warning(
        "could not look up the output topics; the first sends wait for metadata",
        ["error": error.description])
    }
    return producer
  }

  /// The pipeline with its publisher, alert emitter and dead-letter writer.
  private func makePipeline(
    _ configuration: Configuration, backbone: Backbone, store: SnapshotStore,
    producer: KafkaProducer?, webhook: AlertWebhook?
  ) throws -> Pipeline {
    let logger = context.logger
    let sha = backbone.weightsSHA256
    let deadLetterTopic = configuration.settings.input.deadLetterTopic
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: sha, store: store,
      publisher: KernelPublisher(
        producer: producer, topic: configuration.settings.publish.topic,
        folder: Self.nonEmpty(configuration.settings.publish.dir), backboneSHA256: sha,
        kernelConfig: try configuration.kernelConfig(), logger: logger.child("publish"),
        metrics: context.metrics),
      alertEmitter: AlertEmitter(
        producer: producer, topic: configuration.settings.alert.topic,
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
    return pipeline
  }

  /// `text`, or nil when it is empty.
  private static func nonEmpty(_ text: String) -> String? { text.isEmpty ? nil : text }

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
        throw ServiceError(
          .stateUnreadable,
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

  /// The input: `input.file` read from the trained state's offset, or the consumer of
  /// `input.topics` in `input.group_id` whose rebalances `responder` answers.
  ///
  /// - Throws: `UsageError` when the input is not set, `KafkaError` when the consumer cannot
  ///   be made.
  private func makeSource(
    _ configuration: Configuration, pipeline: Pipeline, responder: RebalanceResponder
  ) throws -> any RecordSource {
    guard configuration.settings.input.source == .kafka else {
      let path = configuration.settings.input.file
      guard !path.isEmpty else {
        throw ServiceError(
          .configuration, "input.source = file needs input.file (a JSON-lines event file)")
      }
      let partition = TopicPartition(topic: "file", partition: 0)
      return try FileRecordSource(
        url: URL(fileURLWithPath: path), topic: "file",
        startOffset: pipeline.offsets[partition] ?? 0)
    }
    let topics = configuration.settings.input.topics
    guard !topics.isEmpty else {
      throw ServiceError(.configuration, "input.topics is empty: nothing to consume")
    }
    let kafka = configuration.kafkaConfiguration.setting(
      "auto.offset.reset", configuration.settings.input.start.rawValue)
    return try KafkaRecordSource.subscribing(
      to: topics, groupID: configuration.settings.input.groupID, configuration: kafka,
      logger: context.logger.child("consumer"), metrics: context.metrics,
      onRebalance: { event, consumer in responder.handle(event, consumer: consumer) },
      startOffset: { responder.startOffset(of: $0) })
  }

  /// A partition's log start and end, asked of its leader (nil for a file source): offsets
  /// that went backwards below the trained state's (a topic created again) are told from
  /// records read again.
  private static func watermarks(of source: any RecordSource, logger: Logger)
    -> (@Sendable (TopicPartition) -> (low: Int64, high: Int64)?)?
  {
    guard let kafka = source as? KafkaRecordSource else { return nil }
    let consumer = kafka.consumer
    return { @Sendable (partition: TopicPartition) -> (low: Int64, high: Int64)? in
      do {
        return try consumer.watermarks(of: partition, timeout: .seconds(10))
      } catch {
        logger.warning(
          "could not ask a partition's log start and end; its offsets are not checked",
          ["partition": partition.description, "error": "\(error)"])
        return nil
      }
    }
  }

  /// Prints the closing summary: only what a snapshot holds counts as served, the rest is read
  /// again at the next start.
  private func report(
    _ pipeline: Pipeline, covered: TrainingLoop.CoveredState?, store: SnapshotStore
  ) {
    let counts = pipeline.counts
    if (covered?.records ?? 0) == counts.records {
      context.print(
        "served \(counts.records) records (\(counts.rejected) rejected) into \(counts.examples) "
          + "examples over \(pipeline.trainer.domains.count) domains; snapshots in "
          + store.directory)
    } else {
      context.print(
        "read \(counts.records) records, of which \(covered?.records ?? 0) are covered by a "
          + "snapshot (\(covered.map { "version \($0.version), offsets \($0.offsetsDescription)" } ?? "none")); "
          + "the rest are read again at the next start; snapshots in \(store.directory)")
    }
  }

  /// What `start()` made: the service's settings, clients and restored pipeline.
  private struct Service {
    let configuration: Configuration
    let logger: Logger
    let idleExit: Duration?
    let offsetResetPolicy: OffsetResetPolicy
    let metrics: ServeMetrics
    let health: HealthState
    /// The metrics and health endpoint, kept alive for the run.
    let endpoint: HTTPEndpoint?
    let store: SnapshotStore
    let isKafka: Bool
    let producer: KafkaProducer?
    let webhook: AlertWebhook?
    let pipeline: Pipeline
    /// The snapshot the pipeline was restored from (nil: it started empty).
    let restored: SnapshotManifest?
    /// `shutdown.timeout`, in seconds.
    let timeout: Double
  }

  /// What `connect(_:)` made: the queue between the threads, the source and the loops.
  private struct Serving {
    let queue: RecordQueue
    let stateTopic: PartitionStateTopic?
    let responder: RebalanceResponder
    let source: any RecordSource
    let loop: TrainingLoop

    /// Starts the training thread.
    func startTraining() {
      let thread = Thread.named("iak-training", stackSize: 16 << 20) { [loop] in loop.run() }
      thread.start()
    }
  }
}

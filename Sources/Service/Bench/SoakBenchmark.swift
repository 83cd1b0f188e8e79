import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Synchronization

/// `iak-stream bench soak`: the real `serve` path in this process (in-process mock cluster,
/// consumer thread, decode, join, route, train, snapshots, publish) fed the input stream in a
/// loop for a number of minutes, with a line of figures per minute: resident memory, events/s
/// and examples/s in that minute, domains alive, snapshot size, then the bytes per domain (RSS
/// growth, snapshot, and what a domain holds in memory by part). Memory must stay flat.
///
/// Each loop moves the event times forward by the stream's span (`SoakStream`), so rolling
/// windows keep making new domains as time passes. Events are produced while serve consumes,
/// at most `Settings.maxLag` records ahead of it, because the mock broker keeps only about 5 MB
/// per partition.
struct SoakBenchmark {
  /// What the soak is given.
  struct Settings {
    /// JSON-lines events with integer millisecond times (the demo's events after 1998).
    var input: URL
    /// The backbone folder `serve` loads.
    var backbone: String
    /// Lines to print, one per `interval`.
    var minutes = 10
    /// Partitions of the input topic (regions round robin, as `bench serve` places them).
    var partitions = 4
    /// Records produced and not yet through the pipeline, at most.
    var maxLag = 20_000
    /// The time between lines (a minute; tests use less).
    var interval = Duration.seconds(60)
  }

  /// The figures of one line.
  struct Minute {
    /// 1 for the first interval.
    var index: Int
    /// Resident set size at its end, in MB (10^6 bytes).
    var residentMB: Double
    /// The lowest resident set size sampled in it (every 60th of the interval), in MB: what is
    /// held between snapshots, which take up to twice the state while they are written.
    var lowestMB: Double
    /// The highest resident set size sampled in it, in MB.
    var highestMB: Double
    /// Records through the pipeline per second in it.
    var eventsPerSecond: Double
    /// Labelled examples per second in it.
    var examplesPerSecond: Double
    /// Domains the router holds at its end.
    var domains: Int
    /// Bytes of the newest snapshot's files at its end, in MB.
    var snapshotMB: Double
    /// Loops of the input started so far (1 = first pass).
    var loop: Int
    /// Domains retired so far (`iak_domains_retired_total`).
    var retired: Int
    /// Retired domains whose last version the book keeps (`iak_domains_retired_held`).
    var retiredHeld = 0
    /// Events rejected so far (`iak_events_rejected_total`, every reason): a soak whose events
    /// are refused measures nothing.
    var rejected = 0
    /// Resident set size once serve owned its partitions, before any record, in MB.
    var startMB = 0.0
    /// What the trainer's domains held at the newest snapshot (nil before the first).
    var memory: DomainMemory?
    /// What the trainer's ring of frozen rows holds (`iak_training_frozen_rows_bytes`), in MB:
    /// one per process, besides the domains.
    var frozenRowsMB = 0.0

    /// Bytes per domain alive: the growth of the resident set since serve started (all the
    /// process holds: domains, waiting impressions, queues, allocator slack), the newest
    /// snapshot, and what a domain holds in memory by part (`DomainMemory`).
    var perDomainLine: String {
      let domains = Double(max(domains, 1))
      var line = String(
        format: "per domain at minute %d (%d alive): RSS growth %.1f KB, snapshot %.1f KB", index,
        self.domains, (residentMB - startMB) * 1e3 / domains, snapshotMB * 1e3 / domains)
      if let memory, memory.domains > 0 {
        let held = Double(memory.domains)
        line += String(
          format: ", held %.1f KB over %d domains (", Double(memory.totalBytes) / held / 1e3,
          memory.domains)
        line +=
          memory.parts.map { String(format: "%@ %.1f", $0.name, Double($0.bytes) / held / 1e3) }
          .joined(separator: ", ") + " KB)"
      }
      if frozenRowsMB > 0 {
        line += String(
          format: "; besides the domains, the ring of frozen rows %.1f MB", frozenRowsMB)
      }
      return line
    }

    /// The printed line.
    var line: String {
      String(
        format: "minute %d: RSS %.1f MB (lowest %.1f, highest %.1f in the minute), %.0f "
          + "events/s, %.0f examples/s, %d domains alive, snapshot %.2f MB (loop %d, %d domains "
          + "retired so far, %d of them in the book, %d events rejected)", index, residentMB,
        lowestMB, highestMB, eventsPerSecond, examplesPerSecond, domains, snapshotMB, loop,
        retired, retiredHeld, rejected)
    }
  }

  let context: CommandContext
  let settings: Settings

  /// Runs the soak, printing its header, a line per minute and a summary; returns the lines'
  /// figures.
  ///
  /// - Throws: `UsageError` for unusable input or when serve stops, `KafkaError` when the mock
  ///   cluster fails.
  @discardableResult
  func run() throws -> [Minute] {
    let configuration = context.configuration
    let loaded = try BenchEvents.load(
      settings.input, for: .soak, regionField: configuration.settings.domain.regionField,
      partitions: settings.partitions, partitionBytes: .max, limit: .max)
    let schema = configuration.eventSchema
    let stream = try SoakStream(loaded, timeField: schema.timeField, idField: schema.idField)
    context.print(
      String(
        format: "soak input: %d events per loop spanning %.1f days (%d regions on %d "
          + "partitions); each loop moves event times %.1f days on (event.max_future = 0: "
          + "within minutes the loops pass the wall clock, whose bound would refuse them); at "
          + "most %d records ahead of serve; checkpoint.interval = %@, domain.window = %@, "
          + "domain.max_domains = %@",
        stream.count, Double(stream.spanMs) / 86_400_000, loaded.regions, settings.partitions,
        Double(stream.spanMs) / 86_400_000, settings.maxLag,
        configuration.string("checkpoint.interval"), configuration.string("domain.window"),
        configuration.string("domain.max_domains")))

    let cluster = try MockKafkaCluster.make(brokers: 1, logger: context.logger.child("mock"))
    for topic in ServeBenchmark.serviceTopics(configuration) {
      try cluster.createTopic(topic, partitions: 1)
    }
    let topic = "bench-soak"
    try cluster.createTopic(topic, partitions: settings.partitions)
    // Freshness kept as `serve` keeps it, so the soak measures what the service holds.
    let run = try ServeRun(
      context: context, cluster: cluster, topic: topic, backbone: settings.backbone,
      overrides: ["event.max_future=0"], freshness: FreshnessLog())
    let loadedMB = Double(ProcessMemory.residentBytes ?? 0) / 1e6
    run.start()
    try run.waitUntilAssigned(timeout: .seconds(60))
    let startMB = Double(ProcessMemory.residentBytes ?? 0) / 1e6
    context.print(
      String(
        format: "soak start: RSS %.1f MB with the input loaded, %.1f MB once serve owns its "
          + "partitions; glibc's mmap threshold %@", loadedMB, startMB,
        GlibcAllocator.isMappingThresholdSet(in: ProcessInfo.processInfo.environment)
          ? "as the environment sets it" : "fixed at 128 KiB (GlibcAllocator)"))
    var producer: KafkaProducer? = try KafkaProducer.make(
      configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
        .setting("linger.ms", "5"),
      logger: context.logger.child("producer"))
    let failures = DeliveryFailures()

    let clock = ContinuousClock()
    let start = clock.now
    var minutes: [Minute] = []
    var last = (instant: start, processed: 0.0, examples: 0.0)
    var sent = 0
    var next = 0
    var loop = 0
    var sampled = (next: start, lowest: Double.infinity, highest: 0.0)
    // SIGTERM or SIGINT ends the soak at the next pass: the lines so far get their summary,
    // and serve stops as at the end (a second signal exits at once).
    while minutes.count < settings.minutes && !context.shutdown.isRequested {
      let now = clock.now
      if now >= sampled.next {
        let resident = Double(ProcessMemory.residentBytes ?? 0) / 1e6
        sampled = (
          now + settings.interval / 60, min(sampled.lowest, resident),
          max(sampled.highest, resident)
        )
      }
      if now >= start + settings.interval * (minutes.count + 1) {
        let text = run.registry.render()
        let processed = run.metrics.processed.value
        let examples = Self.total("iak_label_examples_total", in: text)
        let seconds = max((now - last.instant).inSeconds, 1e-9)
        let resident = Double(ProcessMemory.residentBytes ?? 0) / 1e6
        let minute = Minute(
          index: minutes.count + 1, residentMB: resident,
          lowestMB: min(sampled.lowest, resident), highestMB: max(sampled.highest, resident),
          eventsPerSecond: (processed - last.processed) / seconds,
          examplesPerSecond: (examples - last.examples) / seconds,
          domains: Int(Self.total("iak_router_domains", in: text)),
          snapshotMB: Double(Self.newestSnapshotBytes(in: run.directory)) / 1e6, loop: loop + 1,
          retired: Int(Self.total("iak_domains_retired_total", in: text)),
          retiredHeld: Int(Self.total("iak_domains_retired_held", in: text)),
          rejected: Int(Self.total("iak_events_rejected_total", in: text)), startMB: startMB,
          memory: run.freshness.domainMemory,
          frozenRowsMB: Self.total("iak_training_frozen_rows_bytes", in: text) / 1e6)
        context.print(minute.line)
        context.print(minute.perDomainLine)
        minutes.append(minute)
        last = (now, processed, examples)
        sampled = (now + settings.interval / 60, .infinity, 0)
        continue
      }
      if run.hasFinished { throw UsageError("bench soak: serve stopped; see its log") }
      let room = settings.maxLag - (sent - Int(run.metrics.processed.value))
      guard room > 0 else {
        Thread.sleep(forTimeInterval: 0.002)
        continue
      }
      for _ in 0..<min(room, 1_000) {
        let event = stream.events[next]
        try producer?.send(
          OutgoingRecord(
            topic: topic, partition: event.partition, key: event.key,
            value: stream.value(of: next, loop: loop))
        ) { result in
          if case .failure = result { failures.count.add(1, ordering: .relaxed) }
        }
        sent += 1
        next += 1
        if next == stream.count { (next, loop) = (0, loop + 1) }
      }
    }
    if minutes.count < settings.minutes {
      context.print(
        "soak stopped by a signal after \(minutes.count) of \(settings.minutes) minutes: what "
          + "follows covers those")
    }
    // How much of the resident set is memory the allocator holds free, measured once at the end
    // while serve still holds its state (trimming every minute would measure a process other
    // than the service).
    let untrimmed = Double(ProcessMemory.residentBytes ?? 0) / 1e6
    GlibcAllocator.trim()
    let trimmed = Double(ProcessMemory.residentBytes ?? 0) / 1e6
    context.print(
      String(
        format: "soak end, serve still running: RSS %.1f MB, %.1f MB right after malloc_trim(0) "
          + "(the difference was free memory glibc's heaps held)", untrimmed, trimmed))
    let outcome = try run.stop()
    // Stopped by a signal before serve read a record is a short soak; its whole length without
    // one is a failure (a topic or consumer problem), not a summary of zeros.
    if outcome.records == 0 && minutes.count == settings.minutes {
      throw UsageError(
        "bench soak: serve read no record in \(minutes.count) minutes; see its log")
    }
    try producer?.close(timeout: .seconds(30))
    // Destroyed here, while the cluster is up: destroyed after it, its last reconnection
    // attempts were logged as errors after the summary.
    producer = nil
    let undelivered = failures.count.load(ordering: .acquiring)
    if undelivered > 0 {
      context.logger.warning(
        "bench soak: records were not delivered to the mock cluster", ["count": "\(undelivered)"])
    }
    // The cluster must outlive serve and the producer.
    withExtendedLifetime(cluster) {}
    context.print(Self.summary(minutes, outcome: outcome, loops: loop + 1))
    context.print(
      Self.checkpointLine(run.freshness.checkpoints, seconds: (clock.now - start).inSeconds))
    return minutes
  }

  /// What the checkpoints took of the training thread, which runs them: their number, their
  /// time in all against the soak's `seconds`, and each step's median and maximum.
  static func checkpointLine(_ checkpoints: [CheckpointTimings], seconds: Double) -> String {
    let total = checkpoints.reduce(0) { sum, checkpoint in
      sum + checkpoint.steps.reduce(0) { $0 + $1.seconds }
    }
    return String(
      format: "soak checkpoints: %d, %.1f s in all on the training thread, %.1f%% of the "
        + "soak's %.0f s; ", checkpoints.count, total, 100 * total / max(seconds, 1e-9), seconds)
      + ServeBenchmark.stepsLine(checkpoints)
  }

  /// The closing line: RSS of the first and last minute, and its slope, at the minutes' ends
  /// and of their lowest samples.
  static func summary(_ minutes: [Minute], outcome: ServeRun.Outcome, loops: Int) -> String {
    guard let first = minutes.first, let last = minutes.last else { return "soak: no minutes" }
    let half = Array(minutes.suffix(max(2, minutes.count / 2)))
    return String(
      format: "soak summary: %d minutes, %d events (%d loops started), %d examples, %d "
        + "snapshots; RSS first minute %.1f MB, last minute %.1f MB (%+.1f MB); slope %.2f "
        + "MB/min over all minutes (lowest per minute: %.2f), %.2f MB/min over the last %d "
        + "(lowest: %.2f); %d domains alive, %d retired",
      minutes.count, outcome.records, loops, outcome.examples, outcome.snapshots,
      first.residentMB, last.residentMB, last.residentMB - first.residentMB,
      slope(minutes, of: \.residentMB), slope(minutes, of: \.lowestMB),
      slope(half, of: \.residentMB), half.count, slope(half, of: \.lowestMB), last.domains,
      last.retired)
  }

  /// The least-squares slope of a figure (in MB) over the minutes, in MB per minute (0 for
  /// fewer than two).
  static func slope(_ minutes: [Minute], of figure: KeyPath<Minute, Double>) -> Double {
    guard minutes.count >= 2 else { return 0 }
    let count = Double(minutes.count)
    let meanX = minutes.reduce(0) { $0 + Double($1.index) } / count
    let meanY = minutes.reduce(0) { $0 + $1[keyPath: figure] } / count
    var covariance = 0.0
    var variance = 0.0
    for minute in minutes {
      covariance += (Double(minute.index) - meanX) * (minute[keyPath: figure] - meanY)
      variance += (Double(minute.index) - meanX) * (Double(minute.index) - meanX)
    }
    return covariance / variance
  }

  /// The sum of every series of metric `name` in the Prometheus text `text`.
  static func total(_ name: String, in text: String) -> Double {
    var sum = 0.0
    for line in text.split(separator: "\n") where line.hasPrefix(name) {
      let rest = line.dropFirst(name.count)
      guard rest.first == " " || rest.first == "{",
        let value = rest.split(separator: " ").last.flatMap({ Double($0) })
      else { continue }
      sum += value
    }
    return sum
  }

  /// The bytes of the files of the newest snapshot in `directory` (0 before the first).
  static func newestSnapshotBytes(in directory: String) -> Int {
    guard let store = try? SnapshotStore(directory: directory, keep: 1, createIfMissing: false),
      let version = store.latestVersion
    else { return 0 }
    let folder = store.folder(of: version)
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
    return names.reduce(0) { total, name in
      let attributes = try? FileManager.default.attributesOfItem(atPath: folder + "/" + name)
      return total + ((attributes?[.size] as? NSNumber)?.intValue ?? 0)
    }
  }
}

/// Delivery failures counted from the producer's delivery-report thread.
private final class DeliveryFailures: Sendable {
  let count = Atomic<Int>(0)
}

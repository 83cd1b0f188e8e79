import Foundation
import Observability
import Stream

/// `bench serve`'s label-mode freshness runs: for each `label.mode`, how long from an
/// impression's production to the publication of a kernel trained on it.
///
/// The events are stamped with the wall clock as they are produced (an impression's event time
/// is its production time; a click keeps its delay after its impression from the input), so the
/// label wait takes real time: `wait` shows it, the delayed-feedback modes train at once or after
/// their window. Every run uses `checkpoint.interval = 1s` and the same schedule, and closes a
/// batch after 500 ms (`train.batch_max_wait`; the default 10 minutes of event time would hold
/// a quiet domain's impressions that long whatever the label mode).
extension ServeBenchmark {
  /// The settings of the label-mode runs, besides `label.mode`.
  static let labelModeSettings = [
    "checkpoint.interval=1s", "label.wait=10s", "label.window=2s",
    "label.max_out_of_orderness=1s", "train.batch_max_wait=500ms",
  ]

  /// Runs one freshness run per mode of `settings.labelModes` at `rate` impressions per second
  /// for `settings.labelModeSeconds`, and prints its figure line.
  ///
  /// - Throws: `UsageError` when the input holds no impression, `KafkaError` when the mock
  ///   cluster fails, or the error that stopped `serve`.
  func labelModeFreshness(_ events: BenchEvents, rate: Double, cluster: MockKafkaCluster) throws {
    guard !settings.labelModes.isEmpty else { return }
    let seconds = settings.labelModeSeconds
    let schedule = try LiveSchedule(
      events, schema: context.configuration.eventSchema, impressionsPerSecond: rate,
      seconds: seconds)
    context.print(
      String(
        format: "label-mode freshness at %.0f impressions/s: %d impressions and %d clicks each "
          + "run, produced over %.0f s stamped with the wall clock; %@", rate,
        schedule.impressions, schedule.items.count - schedule.impressions, seconds,
        Self.labelModeSettings.joined(separator: ", ")))
    // fake_negative once more with train.close_at_checkpoint: its batches on partitions that
    // went quiet close at the next checkpoint instead of waiting for their event time to move.
    let runs =
      settings.labelModes.map { (mode: $0, closing: false) }
      + (settings.labelModes.contains(.fakeNegative) ? [(mode: .fakeNegative, closing: true)] : [])
    for (mode, closing) in runs {
      let topic = "bench-label-\(mode.rawValue)\(closing ? "-closing" : "")-\(Int(rate))"
      try cluster.createTopic(topic, partitions: settings.partitions)
      let run = try ServeRun(
        context: context, cluster: cluster, topic: topic, backbone: settings.backbone,
        overrides: Self.labelModeSettings + [
          "label.mode=\(mode.rawValue)", "train.close_at_checkpoint=\(closing)",
        ])
      run.start()
      try run.waitUntilAssigned(timeout: .seconds(60))
      let producer = try KafkaProducer.make(
        configuration: KafkaConfiguration(bootstrapServers: cluster.bootstrapServers),
        logger: context.logger.child("producer"))
      try schedule.produce(to: topic, with: producer)
      _ = try run.waitUntilProcessed(schedule.items.count, timeout: .seconds(600))
      try run.waitUntilPublishedAfterLastRecord(timeout: .seconds(60))
      _ = try run.stop()
      try producer.close(timeout: .seconds(10))
      context.print(
        "label.mode = \(mode.rawValue)\(closing ? ", train.close_at_checkpoint = true" : ""): "
          + "from an impression's production to the publication of "
          + "a kernel trained on it: "
          + Self.impressionQuantiles(run.freshness, produced: schedule.impressions)
          + (mode == .fakeNegative ? " (target p99 < 2 s)" : ""))
      let log = run.freshness
      if let p50 = log.quantile(0.5, from: .impressionTrained),
        let p99 = log.quantile(0.99, from: .impressionTrained)
      {
        context.print(
          String(
            format: "  of which production -> trained: p50 %.3f s, p99 %.3f s; %@", p50, p99,
            Self.stepsLine(log.state.withLock { $0.checkpoints })))
        context.print("  " + Self.partsLine(log))
      }
    }
  }

  /// p50, p99 and max over every produced impression, an impression no published kernel had
  /// trained on when the run ended counting as longer than any (shown as "> run").
  static func impressionQuantiles(_ log: FreshnessLog, produced: Int) -> String {
    let trained = log.recordCount(from: .impression)
    func figure(_ q: Double) -> String {
      let rank = max(1, Int((q * Double(produced)).rounded(.up)))
      guard rank <= trained,
        let value = log.quantile(Double(rank) / Double(trained), from: .impression)
      else { return "> run" }
      return String(format: "%.3f s", value)
    }
    return "p50 \(figure(0.5)), p99 \(figure(0.99)), max \(figure(1)); \(trained) of \(produced) "
      + "impressions trained and published within the run"
  }
}

/// The events of a label-mode run, in the order and at the offsets they are produced: the
/// first impressions of the input at a steady rate, each click of one of them its input delay
/// after it.
struct LiveSchedule {
  /// One event to produce.
  struct Item {
    /// Seconds after the start of the run.
    var offset: Double
    /// The event (its time is set when it is produced).
    var event: Event
    /// For a click, the index in `items` of its impression.
    var impression: Int?
    /// Its record key.
    var key: [UInt8]?
    /// Its partition.
    var partition: Int32
  }

  /// What is produced, by offset.
  let items: [Item]
  /// Impressions among them.
  let impressions: Int
  let schema: EventSchema

  /// The schedule of `events` decoded under `schema`: `impressionsPerSecond * seconds`
  /// impressions at a steady rate, and the clicks of those impressions.
  ///
  /// - Throws: `UsageError` when no event is an impression.
  init(
    _ events: BenchEvents, schema: EventSchema, impressionsPerSecond: Double, seconds: Double
  ) throws {
    self.schema = schema
    let decoder = EventDecoder(schema: schema, metrics: MetricsRegistry())
    let wanted = max(1, Int(impressionsPerSecond * seconds))
    var items: [Item] = []
    var impressionIndex: [String: (item: Int, time: Int64)] = [:]
    for event in events.events {
      guard let decoded = try? decoder.decode(event.value) else { continue }
      switch decoded.kind {
      case .impression:
        guard impressionIndex.count < wanted, impressionIndex[decoded.id] == nil else { continue }
        var unlabelled = decoded
        unlabelled.label = nil
        impressionIndex[decoded.id] = (items.count, decoded.timeMilliseconds)
        items.append(
          Item(
            offset: Double(impressionIndex.count - 1) / impressionsPerSecond, event: unlabelled,
            impression: nil, key: event.key, partition: event.partition))
      case .click:
        guard let (index, time) = impressionIndex[decoded.id] else { continue }
        let delay = Double(max(0, decoded.timeMilliseconds - time)) / 1000
        items.append(
          Item(
            offset: items[index].offset + delay, event: decoded, impression: index,
            key: event.key, partition: event.partition))
      }
    }
    guard !impressionIndex.isEmpty else {
      throw UsageError("bench serve: the --input events hold no impression")
    }
    // Stable by offset: an impression before a click of the same instant.
    let order = items.indices.sorted { (items[$0].offset, $0) < (items[$1].offset, $1) }
    var position = [Int](repeating: 0, count: items.count)
    for (new, old) in order.enumerated() { position[old] = new }
    self.items = order.map { old in
      var item = items[old]
      item.impression = item.impression.map { position[$0] }
      return item
    }
    impressions = impressionIndex.count
  }

  /// Sends every event to `topic` when its offset is due, stamped with the wall clock (a click:
  /// its impression's stamp plus its delay), and waits until all are delivered.
  ///
  /// - Throws: `KafkaError` when a send fails or a record is not delivered.
  func produce(to topic: String, with producer: KafkaProducer) throws {
    let clock = ContinuousClock()
    let start = clock.now
    var stamps = [Int64](repeating: 0, count: items.count)
    for (index, item) in items.enumerated() {
      let due = start + .milliseconds(Int64(item.offset * 1000))
      if clock.now < due { Thread.sleep(forTimeInterval: (due - clock.now).inSeconds) }
      var event = item.event
      if let impression = item.impression {
        let delay = Int64(((item.offset - items[impression].offset) * 1000).rounded())
        event.timeMilliseconds = stamps[impression] + delay
      } else {
        event.timeMilliseconds = Int64(Date().timeIntervalSince1970 * 1000)
      }
      stamps[index] = event.timeMilliseconds
      try producer.send(
        OutgoingRecord(
          topic: topic, partition: item.partition, key: item.key,
          value: Array(event.jsonLine(schema: schema).utf8)))
    }
    try producer.flush(timeout: .seconds(120))
  }
}

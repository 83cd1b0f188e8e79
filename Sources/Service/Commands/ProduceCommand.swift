import Foundation
import Observability
import Stream

extension CommandSpec {
  /// `iak-stream produce`: produces a JSON-lines event file to Kafka, keyed by region.
  public static let produce = CommandSpec(
    name: "produce",
    summary: "Produce a JSON-lines event file to Kafka, keyed by region",
    usage:
      "iak-stream produce --input FILE [--topic T] [--rate EVENTS_PER_S | --speedup X] "
      + "[--timestamp send|event] [--bootstrap-servers HOST:PORT]",
    details: """
      Sends every line of FILE as one record to the topic (default: the first of input.topics),
      keyed by the event's region field (domain.region_field), so that a domain's events stay in
      one partition and in order. --rate paces the send at so many events per second; --speedup
      replays event time X times faster than it happened; without either it sends as fast as the
      producer allows. The producer is idempotent. Each record's Kafka timestamp is the time it
      is sent (--timestamp send, the default), so that a cluster's time-based retention counts
      from now; the event time stays in the payload's ts field, which is what iak-stream reads.
      --timestamp event stamps records with their event time instead: a cluster with time-based
      retention deletes old events at once. Progress (count, rate, ETA) is shown while sending;
      at the end it reports sent, delivered and failed counts and exits 1 if anything was not
      delivered. It then checks that the broker still holds what it wrote: the development
      broker (iak-stream broker) keeps only about 5 MB per partition and silently drops the
      oldest records beyond that; produce counts and reports any such records with the fix.
      """,
    options: [
      .value("--input", "FILE", "JSON-lines events to send (required)"),
      .value("--topic", "T", "Topic to produce to (default: first of input.topics)"),
      .value("--rate", "EVENTS_PER_S", "Send at this many events per second"),
      .value("--speedup", "X", "Send X times faster than event time"),
      .value(
        "--timestamp", "send|event",
        "Kafka timestamp of each record: send time (default) or event time"),
      .value("--bootstrap-servers", "HOST:PORT", "Shortcut for --set kafka.bootstrap.servers=..."),
    ],
    run: { context in
      let arguments = context.arguments
      let configuration = try context.configuration.overridingBootstrapServers(
        arguments.value("--bootstrap-servers"))
      let rate = try arguments.positiveDouble("--rate", default: nil)
      let speedup = try arguments.positiveDouble("--speedup", default: nil)
      if rate != nil && speedup != nil {
        throw UsageError("give --rate or --speedup, not both")
      }
      let pace: EventProducer.Pace =
        rate.map { .rate($0) } ?? speedup.map { .speedup($0) } ?? .unlimited
      guard let topic = arguments.value("--topic") ?? configuration.settings.input.topics.first
      else { throw UsageError("no topic: give --topic or set input.topics") }
      let input = URL(fileURLWithPath: try arguments.required("--input"))
      let timestampText = arguments.value("--timestamp") ?? "send"
      guard let timestamp = EventProducer.Timestamp(rawValue: timestampText) else {
        throw UsageError("--timestamp expects send or event, got '\(timestampText)'")
      }
      let schema = configuration.eventSchema
      var reporter: ProgressReporter?
      let result = try EventProducer.run(
        EventProducer.Options(
          input: input, topic: topic, pace: pace, timestamp: timestamp,
          configuration: configuration.kafkaConfiguration, progressEvery: 1_000),
        key: EventProducer.key(byField: schema.regionField),
        eventTimeMs: { line in
          line.withUnsafeBytes { try? EventDecoder.decode($0, schema: schema).timeMilliseconds }
        },
        logger: context.logger, metrics: context.metrics,
        progress: { progress in
          if reporter == nil {
            reporter = ProgressReporter(
              label: "produce", unit: "events", total: progress.total, logger: context.logger)
          }
          reporter?.update(done: progress.sent)
        })
      reporter?.finish(done: result.sent)
      context.print(
        "produced to \(topic): sent \(result.sent), delivered \(result.delivered), "
          + "failed \(result.failed)")
      let lost = result.notRetained.values.reduce(0, +)
      if lost > 0 {
        let partitions = result.notRetained.keys.sorted { $0.partition < $1.partition }
        context.print(
          "warning: \(lost) of the \(result.delivered) records delivered are no longer on the "
            + "broker: the log start of \(partitions.count) partition(s) "
            + "(\(partitions.map { "\($0.partition)" }.joined(separator: ", "))) moved past them, "
            + "so a consumer that had not read them yet will never see them. The development "
            + "broker keeps about 5 MB per partition: give the topic more partitions "
            + "(iak-stream broker --topic \(topic):N), or run serve while producing so that it "
            + "reads records before they are dropped.")
      }
      return result.isComplete ? 0 : 1
    })
}

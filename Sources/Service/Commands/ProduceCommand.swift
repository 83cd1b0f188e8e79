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
      + "[--bootstrap-servers HOST:PORT]",
    details: """
      Sends every line of FILE as one record to the topic (default: the first of input.topics),
      keyed by the event's region field (domain.region_field), so that a domain's events stay in
      one partition and in order. --rate paces the send at so many events per second; --speedup
      replays event time X times faster than it happened; without either it sends as fast as the
      producer allows. The producer is idempotent. Progress is shown while sending; at the end
      it reports sent, delivered and failed counts and exits 1 if anything was not delivered.
      """,
    options: [
      .value("--input", "FILE", "JSON-lines events to send (required)"),
      .value("--topic", "T", "Topic to produce to (default: first of input.topics)"),
      .value("--rate", "EVENTS_PER_S", "Send at this many events per second"),
      .value("--speedup", "X", "Send X times faster than event time"),
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
      let pace: ProduceCommand.Pace =
        rate.map { .rate($0) } ?? speedup.map { .speedup($0) } ?? .unlimited
      guard let topic = arguments.value("--topic") ?? configuration.list("input.topics").first
      else { throw UsageError("no topic: give --topic or set input.topics") }
      let input = URL(fileURLWithPath: try arguments.required("--input"))
      let schema = configuration.eventSchema
      let reporter = ProgressReporter(
        label: "produce", unit: "events", total: nil, logger: context.logger)
      let result = try ProduceCommand.run(
        ProduceCommand.Options(
          input: input, topic: topic, pace: pace,
          configuration: configuration.kafkaConfiguration, progressEvery: 1_000),
        key: ProduceCommand.key(byField: schema.regionField),
        eventTimeMs: { line in
          line.withUnsafeBytes { try? EventDecoder.decode($0, schema: schema).timeMilliseconds }
        },
        logger: context.logger, metrics: context.metrics,
        progress: { reporter.update(done: $0.sent) })
      reporter.finish()
      context.print(
        "produced to \(topic): sent \(result.sent), delivered \(result.delivered), "
          + "failed \(result.failed)")
      return result.isComplete ? 0 : 1
    })
}

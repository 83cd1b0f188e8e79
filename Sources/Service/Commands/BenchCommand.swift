import Checkpoint
import Foundation
import Learner
import Stream

extension CommandSpec {
  /// `iak-stream bench`: benchmarks that print figures.
  public static let bench = CommandSpec(
    name: "bench",
    summary: "Run a benchmark and print its figures (bench learner | decode | kafka | checkpoint)",
    usage: "iak-stream bench learner|decode|kafka|checkpoint [--input FILE] [--seconds S]",
    details: """
      learner     training examples/s, achieved GFLOP/s of the kernel step and single-thread
                  sgemm GFLOP/s measured in the same run, for batch sizes 32/128/512
      decode      decoded events/s, and decode + join + route events/s, of the --input events
      kafka       records/s consumed from the embedded mock broker for --input, then the
                  same keyed by region through decode, join and routing
      checkpoint  encode/decode/sha256 throughput and one durable snapshot write and load

      The process runs OpenBLAS with the kernels it selects for this CPU (OPENBLAS_CORETYPE
      is set before the library loads; `openblas_get_corename` is printed) and one BLAS thread,
      as the service does. Figures are printed, never asserted.
      """,
    options: [
      .value("--input", "FILE", "Events for decode and kafka (JSON lines)"),
      .value("--seconds", "S", "Minimum measuring time per learner figure (default 1)"),
      .value(
        "--partitions", "N",
        "Partitions of the mock topic for kafka (default 4; the mock keeps ~5 MB per partition)"),
    ],
    run: { context in
      let arguments = context.arguments
      guard let which = arguments.positionals.first, arguments.positionals.count == 1 else {
        throw UsageError("bench takes one of: learner, decode, kafka, checkpoint")
      }
      switch which {
      case "learner":
        let seconds = try arguments.positiveDouble("--seconds", default: 1) ?? 1
        context.print("openblas core: \(BLASRuntime.coreName)")
        for line in LearnerBenchmark.format(try LearnerBenchmark.run(seconds: seconds)) {
          context.print(line)
        }
      case "decode":
        let path = try arguments.required("--input")
        guard let data = FileManager.default.contents(atPath: path) else {
          throw UsageError("cannot read --input \(path)")
        }
        let lines = data.split(separator: UInt8(ascii: "\n")).map { Array($0) }
        let schema = context.configuration.eventSchema
        context.print("decode: \(EventDecodingBenchmark.measure(lines: lines, schema: schema))")
        let router = try DomainRouter(
          configuration: try context.configuration.routerConfiguration())
        let joined = EventDecodingBenchmark.measureDecodeJoinRoute(
          lines: lines, schema: schema, joiner: context.configuration.joinerConfiguration,
          router: router)
        context.print("decode+join+route: \(joined)")
      case "kafka":
        let input = URL(fileURLWithPath: try arguments.required("--input"))
        let partitions = try arguments.int("--partitions", default: 4, in: 1...1024)
        context.print(
          "(\(partitions) partitions) "
            + "\(try KafkaThroughputBenchmark.run(input: input, partitions: partitions))")
        // The same records keyed by region as `produce` sends them, through the pipeline's
        // front half: decode, join clicks to impressions, route to domains.
        let configuration = context.configuration
        var ingest = try EventIngest(
          schema: configuration.eventSchema, joiner: configuration.joinerConfiguration,
          router: try configuration.routerConfiguration(), metrics: nil)
        var routed: [EventIngest.Routed] = []
        var rejected = 0
        var examples = 0
        let figures = try KafkaThroughputBenchmark.run(
          // Regions are few, so keyed partitions fill unevenly: the first 100,000 events stay
          // within the mock broker's ~5 MB per partition.
          input: input, partitions: partitions, limit: 100_000,
          key: ProduceCommand.key(byField: configuration.eventSchema.regionField),
          stages: "consume+decode+join+route",
          stage: { batch in
            for record in batch {
              do throws(EventRejection) {
                try ingest.ingest(record.value, partition: record.partition, into: &routed)
              } catch {
                rejected += 1
              }
              examples += routed.count
              routed.removeAll(keepingCapacity: true)
            }
          })
        context.print(
          "(\(partitions) partitions, keyed by region) \(figures); \(examples) examples, "
            + "\(rejected) rejected")
      case "checkpoint":
        let directory = FileManager.default.temporaryDirectory
          .appendingPathComponent("iak-bench-\(getpid())").path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        context.print("\(try CheckpointBenchmark.run(directory: directory))")
      default:
        throw UsageError("unknown benchmark '\(which)': learner, decode, kafka or checkpoint")
      }
      return 0
    })
}

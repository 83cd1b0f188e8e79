import Foundation
import Testing

@testable import Learner

/// Runs the benchmark and prints its figures (speed is reported, never asserted); only the shape
/// of the results is checked. Run with `OPENBLAS_CORETYPE=SkylakeX swift test -c release
/// --filter BenchmarkTests`.
@Suite struct BenchmarkTests {
  @Test func benchmarkReportsEveryBatchSize() throws {
    let seconds = Double(ProcessInfo.processInfo.environment["IAK_BENCH_SECONDS"] ?? "") ?? 0.05
    let threads = Int(ProcessInfo.processInfo.environment["IAK_BENCH_THREADS"] ?? "") ?? 1
    let results = try LearnerBenchmark.run(threads: threads, seconds: seconds)
    for line in LearnerBenchmark.format(results) { print(line) }
    #expect(results.map(\.batchSize) == [32, 128, 512])
    #expect(results.allSatisfy { $0.stepGigaflops > 0 && $0.sgemmGigaflops > 0 })
  }

  @Test func batchesClosingTogetherAreMeasuredOnOneAndTwoThreads() throws {
    for threads in [1, 2] {
      let rate = try LearnerBenchmark.closingTogetherExamplesPerSecond(
        threads: threads, domains: 4, batchSize: 4, seconds: 0.02)
      #expect(rate > 0 && rate.isFinite, "train.threads = \(threads)")
    }
  }
}

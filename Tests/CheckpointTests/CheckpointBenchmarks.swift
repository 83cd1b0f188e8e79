import Foundation
import Testing

@testable import Checkpoint

/// Throughput figures, printed, never asserted. Run with
/// `IAK_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter CheckpointBenchmarks`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["IAK_BENCH"] == "1"))
struct CheckpointBenchmarks {
  @Test func snapshotOfTwoHundredDomains() throws {
    let folder = try TemporaryFolder()
    let figures = try CheckpointBenchmark.run(directory: folder.path)
    print(figures)
    #expect(figures.tensorCount == 600)
  }
}

import Base
import Checkpoint
import Foundation
import Observability
import Stream
import Testing

@testable import Service

/// Issue 14 item 3, while serving: librdkafka resets a partition whose topic was created again
/// to its start, and the records below the trained state's offset arrive. They used to be
/// skipped as "already trained". The training loop now asks the partition's end: below the
/// trained offset it is a reset, handled by `--on-offset-reset`; at or above it the records are
/// read again after a lost partition came back, and are skipped as before.
@Suite struct TrainingLoopOffsetResetTests {
  static let partition = TopicPartition(topic: "events", partition: 0)

  /// Lines `range` of the fixture as records of events/0 at offsets `range` shifted by `shift`.
  static func records(
    _ fixture: StorageFaultScenarioTests.Fixture, _ range: Range<Int>, shift: Int = 0
  ) -> [Record] {
    range.map { index in
      Record(
        topic: "events", partition: 0, offset: Int64(index + shift), value: fixture.lines[index])
    }
  }

  /// Trains lines 0..<300 (offsets 0..<300), then runs the training loop on lines 300..<400
  /// arriving at offsets `300 + shift`..., with the partition's log start and end `watermarks`.
  static func run(
    _ policy: OffsetResetPolicy, shift: Int, watermarks: (low: Int64, high: Int64)
  ) throws -> (Pipeline, TrainingLoop) {
    let fixture = try StorageFaultScenarioTests.Fixture()
    let pipeline = try fixture.pipeline(try SnapshotStore(directory: fixture.store, keep: 2))
    try pipeline.process(Self.records(fixture, 0..<300))
    let queue = RecordQueue(capacity: 10_000)
    let loop = TrainingLoop(
      pipeline: pipeline, source: try FileRecordSource(bytes: [], topic: "events"), queue: queue,
      metrics: ServeMetrics(MetricsRegistry()), interval: .events(1_000_000), logger: .disabled,
      offsetResetPolicy: policy, watermarks: { _ in watermarks })
    let thread = Thread { loop.run() }
    thread.start()
    let decoder = pipeline.decoder
    _ = queue.append(
      Self.records(fixture, 300..<400, shift: shift).map { decoder.decodeAhead($0) },
      arrivedAt: .now)
    queue.submit(ServeRequest(.stop))
    #expect(loop.waitUntilEnded(timeout: .seconds(60)))
    return (pipeline, loop)
  }

  @Test func recordsBelowTheStateOfATopicCreatedAgainStopTheLoopByDefault() throws {
    let (pipeline, loop) = try Self.run(.fail, shift: -300, watermarks: (0, 100))
    let failure = loop.failure?.message ?? ""
    #expect(failure.contains("went backwards while serving"), "\(failure)")
    #expect(failure.contains("ends at offset 100"), "\(failure)")
    #expect(failure.contains("up to offset 300"), "\(failure)")
    #expect(failure.contains("--on-offset-reset resume-from-snapshot"), "\(failure)")
    #expect(pipeline.counts.records == 300)
    #expect(pipeline.offsets[Self.partition] == 300)
  }

  @Test func resumeFromSnapshotKeepsTheStateAndTrainsTheNewRecords() throws {
    let (pipeline, loop) = try Self.run(.resumeFromSnapshot, shift: -300, watermarks: (0, 100))
    #expect(loop.failure == nil)
    #expect(pipeline.counts.records == 400)
    #expect(pipeline.offsets[Self.partition] == 100)
  }

  @Test func startOverForgetsThePartitionsStateAndTrainsItAnew() throws {
    let (pipeline, loop) = try Self.run(.startOver, shift: -300, watermarks: (0, 100))
    #expect(loop.failure == nil)
    #expect(pipeline.counts.records == 100)
    #expect(pipeline.offsets[Self.partition] == 100)
  }

  @Test func recordsReadAgainFromAPartitionThatCameBackAreSkippedAsBefore() throws {
    // Offsets 200..<300 again, the partition still ending at 300: a duplicate read, no reset.
    let (pipeline, loop) = try Self.run(.fail, shift: -100, watermarks: (0, 300))
    #expect(loop.failure == nil)
    #expect(pipeline.counts.records == 300)
    #expect(pipeline.offsets[Self.partition] == 300)
  }
}

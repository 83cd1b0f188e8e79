import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Testing

@testable import Service

/// `train.close_at_checkpoint`: a checkpoint first closes and trains every open batch, so a
/// partition that goes quiet (its event time stands still, so `train.batch_max_wait` never ends
/// its batch) still gets its examples trained and published by the next checkpoint; without it
/// they wait. Either way nothing is trained twice across a restart from the snapshot.
@Suite struct CloseAtCheckpointTests {
  /// fake_negative trains every impression at once; batches of up to 64 rows that wait a day of
  /// event time, so the stream's 40 minutes never close one by time.
  static let settings =
    HostileInputTests.settings + [
      "label.mode=fake_negative", "train.batch_max=64", "train.batch_max_wait=1d",
    ]

  struct Run {
    let pipeline: Pipeline
    let folder: String
  }

  static func pipeline(folder: String, closing: Bool) throws -> Pipeline {
    var configuration = try HostileInputTests.configuration()
    for setting in settings + ["train.close_at_checkpoint=\(closing)"] {
      try configuration.apply(override: setting)
    }
    let metrics = MetricsRegistry()
    return try Pipeline(
      configuration: configuration, backbone: try EventClockTests.backbone(),
      backboneSHA256: "bb", store: try SnapshotStore(directory: folder + "/store", keep: 5),
      publisher: KernelPublisher(
        producer: nil, topic: "", folder: folder + "/publish", backboneSHA256: "bb",
        kernelConfig: try configuration.kernelConfig(), logger: .disabled, metrics: metrics),
      alertEmitter: nil, deadLetters: nil, logger: .disabled, metrics: metrics)
  }

  static func records(_ lines: [[UInt8]]) throws -> [Record] {
    let source = try FileRecordSource(bytes: lines.flatMap { $0 + [0x0A] }, topic: "events")
    var records: [Record] = []
    while !source.isEndOfInput { records += try source.poll(maxRecords: 1000, timeout: .zero) }
    return records
  }

  /// Rows trained into each domain's kernel.
  static func trained(_ pipeline: Pipeline) -> [String: Int] {
    Dictionary(
      uniqueKeysWithValues: pipeline.trainer.domains.map {
        ($0, pipeline.trainer.kernel(for: $0)!.examplesSeen)
      })
  }

  /// Training rows waiting in open batches (the batches also hold evaluation-only rows).
  static func pending(_ pipeline: Pipeline) -> Int {
    pipeline.trainer.domains.reduce(0) {
      $0 + pipeline.trainer.pendingExamples(for: $1).count { $0.use.trains }
    }
  }

  @Test func aCheckpointTrainsTheOpenBatchesOnlyWhenAskedAndARestartTrainsNothingTwice() throws {
    let folder = FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-close-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let records = try Self.records(HostileInputTests.goodLines(count: 60))
    let (early, late) = (Array(records[..<40]), Array(records[40...]))

    // Off (the default): the examples wait in their open batches through the checkpoint.
    let waiting = try Self.pipeline(folder: folder + "/off", closing: false)
    try waiting.process(early)
    try waiting.checkpoint(createdAtMilliseconds: 1)
    let held = Self.pending(waiting)
    #expect(held > 0)
    #expect(Self.trained(waiting).values.allSatisfy { $0 == 0 })

    // On: the checkpoint closed them, so the snapshot holds trained kernels and no open batch.
    let closing = try Self.pipeline(folder: folder + "/on", closing: true)
    try closing.process(early)
    try closing.checkpoint(createdAtMilliseconds: 1)
    #expect(Self.pending(closing) == 0)
    let atCheckpoint = Self.trained(closing)
    #expect(atCheckpoint.values.reduce(0, +) == held, "\(atCheckpoint)")

    // A restart from that snapshot has the same kernels and goes on from the same place: each
    // later example is trained once, as in the process that did not stop.
    let store = try SnapshotStore(directory: folder + "/on/store", keep: 5)
    let restarted = try Self.pipeline(folder: folder + "/restarted", closing: true)
    try restarted.restore(try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot))
    #expect(Self.trained(restarted) == atCheckpoint)
    #expect(Self.pending(restarted) == 0)
    for pipeline in [closing, restarted] {
      try pipeline.process(late)
      try pipeline.checkpoint(createdAtMilliseconds: 2)
    }
    #expect(Self.trained(restarted) == Self.trained(closing))
    for domain in closing.trainer.domains {
      let kernels = [closing, restarted].map {
        SafeTensors(tensors: $0.trainer.kernel(for: domain)!.stateTensors()).encoded()
      }
      #expect(kernels[0] == kernels[1], "\(domain)")
    }
    #expect(Self.trained(closing).values.reduce(0, +) > held)
  }
}

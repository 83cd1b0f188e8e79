import Checkpoint
import Foundation
import Testing

@testable import Service

/// Snapshots stay readable across versions: a store written by iak-stream at bd93569 (before
/// `manifest.sha256`, the payload's copy of the offsets and the recorded training settings;
/// `Fixtures/snapshot-main-bd93569`) loads, restores, and continues to the same state as a run
/// that never stopped; the next snapshot is written in the current form.
@Suite struct SnapshotCompatibilityTests {
  static let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .appendingPathComponent("Fixtures/snapshot-main-bd93569").path

  @Test func aSnapshotWrittenByMainBeforeTheManifestChecksumLoadsAndContinues() throws {
    let fixture = try StorageFaultScenarioTests.Fixture()
    try FileManager.default.copyItem(atPath: Self.fixture, toPath: fixture.store)
    let store = try SnapshotStore(directory: fixture.store, keep: 5)
    let result = try store.loadNewestValid(
      expectingBackbone: "bb", accepting: Pipeline.payloadProblem)
    let snapshot = try #require(result.snapshot, "skipped: \(result.skipped)")
    #expect(result.skipped.isEmpty && result.latestProblem == nil)
    #expect(!FileManager.default.fileExists(atPath: fixture.store + "/1/manifest.sha256"))

    let resumed = try fixture.pipeline(store)
    try resumed.restore(snapshot)
    #expect(resumed.counts == Pipeline.Counts(records: 150, examples: 101, positives: 46))
    #expect(resumed.offsets.values.max() == 150)
    try fixture.feed(resumed, from: 150, until: fixture.lines.count)
    let next = try #require(try resumed.checkpoint(createdAtMilliseconds: 2))
    #expect(next.version == 2)
    #expect(FileManager.default.fileExists(atPath: fixture.store + "/2/manifest.sha256"))
    let reloaded = try #require(
      try store.loadNewestValid(expectingBackbone: "bb", accepting: Pipeline.payloadProblem)
        .snapshot)
    #expect(reloaded.version == 2)

    // The same state as one run over every line.
    let folder = try TemporaryFolder.make("iak-compat-whole")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let whole = try fixture.pipeline(try SnapshotStore(directory: folder, keep: 2))
    try fixture.feed(whole, from: 0, until: fixture.lines.count)
    #expect(
      SafeTensors(tensors: resumed.stateTensors()).encoded()
        == SafeTensors(tensors: whole.stateTensors()).encoded())
  }
}

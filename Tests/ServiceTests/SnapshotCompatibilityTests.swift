import Checkpoint
import Foundation
import Stream
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

    // The old form restores what the current form carries: the same snapshot written again in
    // the current form, restored and fed the same lines, ends in the same bytes.
    let again = try TemporaryFolder.make("iak-compat-again")
    defer { try? FileManager.default.removeItem(atPath: again) }
    let rewriter = try fixture.pipeline(try SnapshotStore(directory: again, keep: 2))
    try rewriter.restore(snapshot)
    try rewriter.checkpoint(createdAtMilliseconds: 1)
    let rewritten = try #require(
      try SnapshotStore(directory: again, keep: 2).loadNewestValid(
        expectingBackbone: "bb", accepting: Pipeline.payloadProblem
      ).snapshot)
    let viaCurrent = try fixture.pipeline(
      try SnapshotStore(directory: try TemporaryFolder.make("iak-compat-via"), keep: 2))
    try viaCurrent.restore(rewritten)
    try fixture.feed(viaCurrent, from: 150, until: fixture.lines.count)
    #expect(Self.encoded(resumed) == Self.encoded(viaCurrent))

    // The same state as one run over every line. Byte for byte where this machine's BLAS
    // computes the fixture's first 150 lines as the machine that wrote it did (sgemm kernels of
    // other core types, e.g. Haswell on AMD, differ in the last bits of a float); elsewhere every
    // tensor that holds no float result equal, and the float ones within 1e-5.
    let folder = try TemporaryFolder.make("iak-compat-whole")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let whole = try fixture.pipeline(try SnapshotStore(directory: folder, keep: 2))
    try fixture.feed(whole, from: 0, until: 150)
    let restored = try fixture.pipeline(
      try SnapshotStore(directory: try TemporaryFolder.make("iak-compat-restored"), keep: 2))
    try restored.restore(snapshot)
    let computesAsTheFixture = Self.encoded(whole) == Self.encoded(restored)
    try fixture.feed(whole, from: 150, until: fixture.lines.count)
    if computesAsTheFixture {
      #expect(Self.encoded(resumed) == Self.encoded(whole))
    } else {
      let differences = try Self.differences(resumed.stateTensors(), whole.stateTensors())
      #expect(differences.isEmpty, "\(differences)")
    }
  }

  static func encoded(_ pipeline: Pipeline) -> [UInt8] {
    SafeTensors(tensors: pipeline.stateTensors()).encoded()
  }

  /// The tensors of `first` and `second` that differ by more than a float's last bits: a name,
  /// dtype or shape (so the size of every byte tensor); the values of a tensor of integers; more
  /// than 1e-5 between floats; the joiner's state besides the serving scores it holds.
  static func differences(_ first: [String: Tensor], _ second: [String: Tensor]) throws
    -> [String]
  {
    var found: [String] = []
    for name in Set(first.keys).union(second.keys).sorted() {
      guard let a = first[name], let b = second[name], a.dtype == b.dtype, a.shape == b.shape
      else {
        found.append("\(name): missing, or another dtype or shape")
        continue
      }
      switch a.dtype {
      case .f32:
        let gap = zip(try a.floats(), try b.floats()).map { abs($0 - $1) }.max() ?? 0
        if !(gap <= 1e-5) { found.append("\(name): floats \(gap) apart") }
      case .f64:
        let gap = zip(try a.doubles(), try b.doubles()).map { abs($0 - $1) }.max() ?? 0
        if !(gap <= 1e-5) { found.append("\(name): doubles \(gap) apart") }
      default:
        guard a.bytes != b.bytes else { continue }
        if name == Pipeline.joinerTensor {
          var states = [
            try LabelJoiner.State(bytes: a.bytes), try LabelJoiner.State(bytes: b.bytes),
          ]
          for state in states.indices {
            for partition in states[state].partitions.indices {
              for index in states[state].partitions[partition].pending.indices {
                states[state].partitions[partition].pending[index].score = nil
              }
            }
          }
          if states[0] != states[1] { found.append("\(name): besides its serving scores") }
        } else if a.dtype != .u8 {
          found.append("\(name): integers")
        }
      // Other byte tensors (a domain's open batch) hold float results too (its examples'
      // serving scores): only their sizes must match.
      }
    }
    return found
  }
}

import Checkpoint
import Foundation
import Testing

/// Issue 14 item 9: `LATEST` is a hint a crash or an operator can leave wrong. Start-up never
/// deletes a complete, verified snapshot because `LATEST` names an older one, numbering goes on
/// from the versions on disk (not from a `LATEST` naming one that does not exist), and every
/// problem with `LATEST` is reported.
@Suite struct SnapshotStoreLatestTests {
  /// Versions 1 to 3 by a store that is gone once they are written (its lock freed).
  static func writeThree(in folder: TemporaryFolder) throws {
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    for seed in 1...3 { try SnapshotStoreTests.write(store, Float(seed)) }
  }

  static func setLatest(_ text: String, in folder: TemporaryFolder) throws {
    try Data(text.utf8).write(to: URL(fileURLWithPath: folder.path + "/LATEST"))
  }

  @Test func latestNamingAnOlderVersionNeverCostsTheNewerVerifiedOnes() throws {
    let folder = try TemporaryFolder()
    try Self.writeThree(in: folder)
    try Self.setLatest("1\n", in: folder)
    // A restart: the store is opened and claimed by the service.
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    try store.claimWriting()
    #expect(store.removedLeftovers.isEmpty)
    #expect(try SnapshotStoreTests.names(in: folder.path) == [".lock", "1", "2", "3", "LATEST"])
    let result = try store.loadNewestValid(expectingBackbone: SnapshotStoreTests.backbone)
    #expect(result.snapshot?.version == 3)
    #expect(result.snapshot?.payload == SnapshotStoreTests.payload(3))
    #expect(result.skipped.isEmpty)
    let problem = result.latestProblem ?? ""
    #expect(problem.contains("names snapshot 1 but snapshot 3 is newer"), "\(problem)")
    #expect(try SnapshotStoreTests.write(store, 4).manifest.version == 4)
    #expect(store.latestVersion == 4)
  }

  @Test func anUncommittedVersionThatFailsItsChecksIsRemovedAtOpening() throws {
    let folder = try TemporaryFolder()
    try Self.writeThree(in: folder)
    try Self.setLatest("2\n", in: folder)
    try FileManager.default.removeItem(atPath: folder.path + "/3/manifest.json")
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    #expect(store.removedLeftovers.map { ($0 as NSString).lastPathComponent } == ["3"])
    #expect(
      try store.loadNewestValid(expectingBackbone: SnapshotStoreTests.backbone).snapshot?.version
        == 2)
    // Its number is not used again.
    #expect(try SnapshotStoreTests.write(store, 4).manifest.version == 4)
  }

  @Test func latestNamingAMissingVersionDoesNotMoveTheNumbering() throws {
    let folder = try TemporaryFolder()
    try Self.writeThree(in: folder)
    try Self.setLatest("99\n", in: folder)
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    try store.claimWriting()
    let result = try store.loadNewestValid(expectingBackbone: SnapshotStoreTests.backbone)
    #expect(result.snapshot?.version == 3)
    let problem = result.latestProblem ?? ""
    #expect(problem.contains("names snapshot 99, which does not exist"), "\(problem)")
    #expect(try SnapshotStoreTests.write(store, 4).manifest.version == 4)
    #expect(
      try SnapshotStoreTests.names(in: folder.path) == [".lock", "1", "2", "3", "4", "LATEST"])
  }

  @Test(arguments: ["", "\n", "3x\n", "\u{0}\u{0}", "-1\n", "0003\n"])
  func anEmptyOrGarbageLatestIsReportedAndTheNewestValidVersionLoads(_ text: String) throws {
    let folder = try TemporaryFolder()
    try Self.writeThree(in: folder)
    try Self.setLatest(text, in: folder)
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    try store.claimWriting()
    let result = try store.loadNewestValid(expectingBackbone: SnapshotStoreTests.backbone)
    #expect(result.snapshot?.version == 3)
    #expect(result.latestProblem?.contains("not a version") == true)
    #expect(try SnapshotStoreTests.write(store, 4).manifest.version == 4)
    #expect(store.latestVersion == 4)
  }
}

import Checkpoint
import Foundation
import Testing

/// Issue 14 item 5: the manifest is checksummed too (`manifest.sha256`, a `sha256sum` line), so
/// a damaged manifest (a flipped bit in its offsets) is refused like a damaged payload, and
/// loading falls back to the version before. Snapshots written before the checksum existed
/// still load.
@Suite struct SnapshotManifestChecksumTests {
  static func edit(_ path: String, _ change: (inout [UInt8]) -> Void) throws {
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    change(&bytes)
    try Data(bytes).write(to: URL(fileURLWithPath: path))
  }

  @Test func everySnapshotCarriesItsManifestsChecksumInSha256sumForm() throws {
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    try SnapshotStoreTests.write(store, 1)
    let manifest = try [UInt8](
      Data(contentsOf: URL(fileURLWithPath: store.folder(of: 1) + "/manifest.json")))
    let line = try String(contentsOfFile: store.folder(of: 1) + "/manifest.sha256", encoding: .utf8)
    #expect(line == SHA256.hexDigest(of: manifest) + "  manifest.json\n")
    #expect(
      try SnapshotStoreTests.names(in: store.folder(of: 1))
        == ["kernels.safetensors", "manifest.json", "manifest.sha256"])
  }

  @Test func aBitFlippedInTheManifestsOffsetsIsRefusedAndTheVersionBeforeLoads() throws {
    let folder = try TemporaryFolder()
    // A fixed clock: with the wall clock's created_at_ms, a manifest whose time happened to
    // hold "1234" too failed the check below now and then (CI of da417c2).
    let store = try SnapshotStore(
      directory: folder.path, keep: 5, clock: SnapshotStoreTests.fixedClock)
    try SnapshotStoreTests.write(store, 1)
    try SnapshotStoreTests.write(store, 2)
    // "1234" -> "1235": one bit of one digit of events/0's offset, still valid JSON.
    let path = store.folder(of: 2) + "/manifest.json"
    let original = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let digits = Array("1234".utf8)
    let at = try #require(
      original.indices.first { original[$0...].starts(with: digits) }.map { $0 + 3 })
    try Self.edit(path) { $0[at] ^= 0x01 }
    let flipped = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
    #expect(flipped.contains("1235") && !flipped.contains("1234"))
    let result = try store.loadNewestValid(expectingBackbone: SnapshotStoreTests.backbone)
    #expect(result.snapshot?.version == 1)
    #expect(result.skipped.map(\.version) == [2])
    #expect(result.skipped.first?.error.kind == .corrupt)
    let message = result.skipped.first?.error.message ?? ""
    #expect(message.contains("manifest.json fails its checksum"), "\(message)")
    #expect(throws: SnapshotStoreError.self) {
      try store.load(version: 2, expectingBackbone: nil)
    }
  }

  @Test func aDamagedChecksumFileIsRefused() throws {
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    try SnapshotStoreTests.write(store, 1)
    try SnapshotStoreTests.write(store, 2)
    try Data("not a checksum\n".utf8).write(
      to: URL(fileURLWithPath: store.folder(of: 2) + "/manifest.sha256"))
    let result = try store.loadNewestValid(expectingBackbone: SnapshotStoreTests.backbone)
    #expect(result.snapshot?.version == 1)
    #expect(result.skipped.first?.error.message.contains("manifest.sha256 is not one line") == true)
  }

  @Test func aSnapshotWithoutAManifestChecksumStillLoads() throws {
    // As every snapshot written before the checksum existed.
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    try SnapshotStoreTests.write(store, 1)
    try FileManager.default.removeItem(atPath: store.folder(of: 1) + "/manifest.sha256")
    let result = try store.loadNewestValid(expectingBackbone: SnapshotStoreTests.backbone)
    #expect(result.snapshot?.version == 1)
    #expect(result.snapshot?.payload == SnapshotStoreTests.payload(1))
    #expect(result.skipped.isEmpty)
  }

  @Test func aCallersCheckOfThePayloadRefusesAVersionAsCorrupt() throws {
    let folder = try TemporaryFolder()
    let store = try SnapshotStore(directory: folder.path, keep: 5)
    try SnapshotStoreTests.write(store, 1)
    try SnapshotStoreTests.write(store, 2)
    let result = try store.loadNewestValid(expectingBackbone: nil) { snapshot in
      snapshot.version == 2 ? "its payload disagrees" : nil
    }
    #expect(result.snapshot?.version == 1)
    #expect(result.skipped.first?.error.kind == .corrupt)
    #expect(result.skipped.first?.error.message.contains("its payload disagrees") == true)
  }
}

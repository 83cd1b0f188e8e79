import Checkpoint
import Foundation
import Testing

@testable import Service

/// Issue 14 item 5: a manifest is not trusted unchecked. A bit flipped in the offsets of the
/// newest manifest used to be accepted (the records between the two offsets trained twice);
/// now it fails the manifest's checksum and serve resumes from the version before. A manifest
/// damaged together with its checksum (rewritten by a tool, say) disagrees with the offsets the
/// payload recorded, and is refused too. Either way the final state counts every record once.
@Suite struct ManifestCheckTests {
  /// Lowers the offset of `file/0` in `version`'s manifest by flipping the lowest bit of its last
  /// digit (an odd digit), and with `rechecksum` writes `manifest.sha256` again to match.
  static func damageOffset(of version: Int, in store: String, rechecksum: Bool) throws -> String {
    let path = "\(store)/\(version)/manifest.json"
    var bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
    let key = Array("\"file\":{\"0\":".utf8)
    let start = try #require(bytes.indices.first { bytes[$0...].starts(with: key) }) + key.count
    var end = start
    while end < bytes.count, (0x30...0x39).contains(bytes[end]) { end += 1 }
    let before = String(decoding: bytes[start..<end], as: UTF8.self)
    // An even last digit: flip a bit of the tens digit instead.
    let at = bytes[end - 1] & 1 == 1 ? end - 1 : end - 2
    bytes[at] ^= bytes[at] & 1 == 1 ? 0x01 : 0x02
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    if rechecksum {
      try Data(SnapshotManifest.checksumLine(of: bytes)).write(
        to: URL(fileURLWithPath: "\(store)/\(version)/manifest.sha256"))
    }
    return before + " -> " + String(decoding: bytes[start..<end], as: UTF8.self)
  }

  @Test func aDamagedManifestIsRefusedAndEveryRecordIsCountedOnce() throws {
    let serve = try InProcessServe()
    let report = ScenarioReport("manifest corruption")
    let all = serve.lines.count
    try serve.write(upTo: all / 2)
    report.check(try serve.run().status == 0, "the first run failed")
    try serve.write(upTo: all)
    report.check(try serve.run().status == 0, "the second run failed")  // version 2: every line

    // A flipped bit: the manifest's own checksum fails; version 1 is used instead.
    let flip = try Self.damageOffset(of: 2, in: serve.store, rechecksum: false)
    let afterFlip = try serve.run()
    report.check(afterFlip.status == 0, "the run after the flip failed")
    let skipped = afterFlip.lines(containing: "skipped a snapshot that failed its checks").first
    report.check(skipped?.contains("version=2") == true, "\(flip): \(afterFlip.log)")
    report.check(skipped?.contains("manifest.json fails its checksum") == true, "\(skipped ?? "")")
    report.check(
      afterFlip.lines(containing: "msg=restored").first?.contains("snapshot=1") == true,
      "the run after the flip did not restore version 1")
    report.check(afterFlip.output.contains("served \(all) records"), "\(flip): \(afterFlip.output)")

    // The manifest and its checksum damaged together (version 3, written by the run above):
    // the payload's copy of the offsets disagrees.
    let edit = try Self.damageOffset(of: 3, in: serve.store, rechecksum: true)
    let afterEdit = try serve.run()
    report.check(afterEdit.status == 0, "the run after the edit failed")
    let refused = afterEdit.lines(containing: "skipped a snapshot that failed its checks")
    report.check(
      refused.first?.contains("differ from those its payload recorded") == true, "\(refused)")
    report.check(refused.first?.contains("version=3") == true, "\(refused)")
    report.check(
      afterEdit.lines(containing: "msg=restored").first?.contains("snapshot=1") == true,
      "the run after the edit did not restore version 1")
    report.check(afterEdit.output.contains("served \(all) records"), "\(edit): \(afterEdit.output)")
    report.finish(
      did:
        "flipped a bit of the newest manifest's offset (\(flip)), restarted; then damaged the "
        + "next one with its checksum rewritten (\(edit)), restarted",
      checked:
        "each refused loudly (manifest checksum, then the payload's offsets), the version "
        + "before used, every record counted once",
      figures: "\(all) records served after each restart")
  }
}

import Checkpoint
import Foundation

/// Which snapshot's kernels are known to be delivered, so that a restart publishes again only
/// what may not have gone out, under the version numbers it already has.
///
/// A checkpoint allocates kernel versions, writes the snapshot recording them, then publishes.
/// Once every kernel owed is delivered, the snapshot's version goes into
/// `<checkpoint.dir>/DELIVERED`. A process restored from a snapshot that `DELIVERED` covers owes
/// nothing; one restored from a newer snapshot (killed between the snapshot and the end of its
/// publish) publishes every kernel of it again, each under the version the snapshot records:
/// the same number with the same weights, which a consumer can drop as a repeat.
extension Pipeline {
  /// The file in the checkpoint folder naming the newest snapshot whose kernels were all
  /// delivered.
  public static let deliveredFileName = "DELIVERED"

  /// The newest snapshot version of `store` whose kernels were all delivered (0: none known).
  public static func deliveredVersion(in store: SnapshotStore) -> Int {
    let path = store.directory + "/" + deliveredFileName
    guard let data = FileManager.default.contents(atPath: path),
      let version = Int(
        String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
    else { return 0 }
    return version
  }

  /// After `restore(_:)` of snapshot `version`: marks every kernel undelivered unless the
  /// store records that snapshot's publish as complete. Returns how many kernels are owed.
  @discardableResult
  public func owePublishingUnlessDelivered(snapshotVersion version: Int) -> Int {
    guard let store, Self.deliveredVersion(in: store) < version else { return 0 }
    state.book.undelivered = Set(trainer.kernels.keys)
    return state.book.undelivered.count
  }

  /// Records in `store` that every kernel of snapshot `version` is delivered.
  ///
  /// - Throws: `StorageError` when the marker cannot be written.
  public static func writeDeliveredVersion(_ version: Int, in store: SnapshotStore) throws {
    try AtomicFile.write(
      Array("\(version)\n".utf8), to: store.directory + "/" + deliveredFileName)
  }

  /// Records that every kernel of snapshot `version` is delivered (best effort: a marker that
  /// cannot be written only costs a repeated publish after a restart).
  func recordDelivery(of version: Int, in store: SnapshotStore) {
    do {
      try Self.writeDeliveredVersion(version, in: store)
    } catch {
      logger.warning(
        "could not record the delivered snapshot; a restart publishes its kernels again",
        ["version": "\(version)", "error": "\(error)"])
    }
  }
}

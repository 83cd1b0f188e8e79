/// The steps of a durable write, named so failures can be reported and injected at each one.
public enum StorageStage: String, Sendable, CaseIterable {
  /// Creating a temporary file or folder next to the destination.
  case createTemp
  /// Writing the bytes of a file.
  case write
  /// Flushing a file or folder to stable storage (`fsync`).
  case fsync
  /// Renaming the temporary file or folder into place.
  case rename
  /// Replacing the `LATEST` pointer of a snapshot store.
  case updateLatest
  /// Reading a file or listing a folder.
  case read
  /// Removing old snapshots beyond the retention count, or leftovers of failed writes.
  case prune
}

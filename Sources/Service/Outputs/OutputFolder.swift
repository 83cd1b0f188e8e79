import Foundation

/// Output files a command writes go into folders it makes, as `pretrain --out` and the
/// snapshot store do: `--summary out/run1/summary.json` works on a fresh clone.
enum OutputFolder {
  /// Makes the folder that will hold the file at `path` (and its parents); a failure is left
  /// to the write that follows, which names the file.
  static func make(for path: String) {
    let folder = (path as NSString).deletingLastPathComponent
    guard !folder.isEmpty else { return }
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
  }
}

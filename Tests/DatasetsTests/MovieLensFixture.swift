import Foundation

/// Where the MovieLens files are, if `scripts/fetch-data` has run.
enum MovieLensFixture {
  static var directory: URL {
    URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("data/ml-100k")
  }

  static var isAvailable: Bool {
    FileManager.default.fileExists(atPath: directory.appendingPathComponent("ml-100k.inter").path)
  }

  /// Rows of a tab-separated MovieLens file, header dropped.
  static func rows(_ name: String) throws -> [[String]] {
    let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    return text.split(separator: "\n").dropFirst().map {
      $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    }
  }
}

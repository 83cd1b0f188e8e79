import Foundation

/// Where the MovieLens files are, if `scripts/fetch-data` has run: `IAK_ML100K`, or `data/ml-100k`
/// in this checkout.
public enum MovieLensFixture {
  /// The folder.
  public static var directory: URL {
    if let folder = ProcessInfo.processInfo.environment["IAK_ML100K"] {
      return URL(fileURLWithPath: folder)
    }
    return URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
      .deletingLastPathComponent().appendingPathComponent("data/ml-100k")
  }

  /// Whether the files are there.
  public static var isAvailable: Bool {
    FileManager.default.fileExists(atPath: directory.appendingPathComponent("ml-100k.inter").path)
  }

  /// Rows of a tab-separated MovieLens file, header dropped.
  public static func rows(_ name: String) throws -> [[String]] {
    let text = try String(contentsOf: directory.appendingPathComponent(name), encoding: .utf8)
    return text.split(separator: "\n").dropFirst().map {
      $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    }
  }
}

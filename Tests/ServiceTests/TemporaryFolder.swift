import Foundation

/// Test folders under the system's temporary directory.
enum TemporaryFolder {
  /// Creates a new empty folder named `<prefix>-<random>` and returns its path.
  static func make(_ prefix: String) throws -> String {
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent("\(prefix)-\(UUID().uuidString.prefix(8))").path
    try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
  }
}

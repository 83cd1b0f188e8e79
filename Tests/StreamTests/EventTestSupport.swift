import Foundation
import Stream

/// A small seeded generator (SplitMix64) so fuzz runs are reproducible.
struct EventTestRandom: RandomNumberGenerator {
  private var state: UInt64

  init(seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var mixed = state
    mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
    mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
    return mixed ^ (mixed >> 31)
  }
}

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

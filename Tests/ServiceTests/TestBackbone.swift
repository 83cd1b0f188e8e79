import Foundation
import Learner
import Testing

@testable import Service

/// A backbone pretrained in this process by `iak-stream pretrain`, for pipeline tests.
enum TestBackbone {
  /// Writes `lines` to `<folder>/pretrain.jsonl`, pretrains on them with `settings`
  /// (`key=value`) into `<folder>/bb` and loads the result.
  static func pretrain(lines: [String], settings: [String], in folder: String) throws -> Backbone {
    let events = folder + "/pretrain.jsonl"
    try (lines.joined(separator: "\n") + "\n").write(
      toFile: events, atomically: true, encoding: .utf8)
    try pretrain(
      events: events, out: folder + "/bb", arguments: settings.flatMap { ["--set", $0] })
    return try Backbone.load(from: folder + "/bb")
  }

  /// Runs `iak-stream pretrain --input events --out out` with `arguments` after them.
  static func pretrain(events: String, out: String, arguments: [String]) throws {
    let captured = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: ["iak-stream", "pretrain", "--input", events, "--out", out] + arguments,
      output: { captured.write($0) }, errorOutput: { captured.writeError($0) })
    try #require(status == 0, "pretrain failed: \(captured.errors)")
  }
}

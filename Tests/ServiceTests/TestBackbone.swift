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
    let out = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: ["iak-stream", "pretrain", "--input", events, "--out", folder + "/bb"]
        + settings.flatMap { ["--set", $0] },
      output: { out.write($0) }, errorOutput: { out.writeError($0) })
    try #require(status == 0, "pretrain failed: \(out.errors)")
    return try Backbone.load(from: folder + "/bb")
  }
}

import Foundation
import Testing

@testable import Service

@Suite struct KernelIndexBytesTests {
  static func index(_ entries: [KernelIndex.Entry]) -> KernelIndex {
    KernelIndex(
      snapshotVersion: 12, createdAtMilliseconds: 1_700_000_000_000, backboneSHA256: "9f",
      insertAt: "hidden2", bottleneck: 8, encoderHidden: 0, entries: entries)
  }

  /// The bytes earlier versions wrote (through Foundation's JSONSerialization, pretty-printed,
  /// keys sorted, slashes unescaped), which `kernels.json` keeps.
  @Test func keepsTheBytesEarlierVersionsWrote() throws {
    let empty = """
      {
        "backbone_sha256" : "9f",
        "bottleneck" : 8,
        "created_at_ms" : 1700000000000,
        "encoder_hidden" : 0,
        "format" : "iak-kernel-index/1",
        "insert_at" : "hidden2",
        "kernels" : [

        ],
        "snapshot_version" : 12
      }

      """
    #expect(String(decoding: Self.index([]).encoded(), as: UTF8.self) == empty)
    let two = Self.index([
      KernelIndex.Entry(
        domain: "1998-03/9", file: "1998-03/9.safetensors", kernelVersion: 4, isActive: true,
        backboneSHA256: "9f", examplesSeen: 1234),
      KernelIndex.Entry(
        domain: "1998-03/10", file: "1998-03/10.safetensors", kernelVersion: 1,
        isActive: false, backboneSHA256: "9f", examplesSeen: 0),
    ])
    let expected = """
      {
        "backbone_sha256" : "9f",
        "bottleneck" : 8,
        "created_at_ms" : 1700000000000,
        "encoder_hidden" : 0,
        "format" : "iak-kernel-index/1",
        "insert_at" : "hidden2",
        "kernels" : [
          {
            "active" : false,
            "backbone_sha256" : "9f",
            "domain" : "1998-03/10",
            "examples_seen" : 0,
            "file" : "1998-03/10.safetensors",
            "kernel_version" : 1
          },
          {
            "active" : true,
            "backbone_sha256" : "9f",
            "domain" : "1998-03/9",
            "examples_seen" : 1234,
            "file" : "1998-03/9.safetensors",
            "kernel_version" : 4
          }
        ],
        "snapshot_version" : 12
      }

      """
    #expect(String(decoding: two.encoded(), as: UTF8.self) == expected)
    let folder = try TemporaryFolder.make("kernel-index")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    try Data(two.encoded()).write(to: URL(fileURLWithPath: folder + "/" + KernelIndex.fileName))
    #expect(try KernelIndex.read(from: folder) == two)
  }
}

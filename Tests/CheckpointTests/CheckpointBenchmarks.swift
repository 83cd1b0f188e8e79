import Foundation
import Testing

@testable import Checkpoint

/// Throughput figures, printed, never asserted. Run with
/// `IAK_BENCH=1 swift test -c release -Xswiftc -enable-testing --filter CheckpointBenchmarks`.
@Suite(.enabled(if: ProcessInfo.processInfo.environment["IAK_BENCH"] == "1"))
struct CheckpointBenchmarks {
  static func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
  }

  @Test func snapshotOfTwoHundredDomains() throws {
    var generator = SplitMix(seed: 3)
    var payload = SafeTensors(metadata: ["kind": "bench"])
    for domain in 0..<200 {
      for tensor in ["encoder.weight", "adam.m", "adam.v"] {
        let values = (0..<10_000).map { _ in Float(generator.next() % 1000) / 1000 }
        payload.tensors["d\(domain)/\(tensor)"] = Tensor(floats: values, shape: [100, 100])
      }
    }
    let folder = try TemporaryFolder()
    var bytes: [UInt8] = []
    let encode = Self.seconds { bytes = payload.encoded() }
    let decode = try Self.seconds { _ = try SafeTensors.decode(bytes) }
    let hash = Self.seconds { _ = SHA256.digest(of: bytes) }
    let store = try SnapshotStore(directory: folder.path, keep: 2)
    let write = try Self.seconds {
      try store.write(payload, offsets: [:], backboneSHA256: "b", configurationDigest: "c")
    }
    let load = try Self.seconds { _ = try store.loadNewestValid(expectingBackbone: "b") }
    let megabytes = Double(bytes.count) / 1e6
    print(
      String(
        format: "checkpoint bench: %.1f MB, 600 tensors: encode %.0f MB/s, decode %.0f MB/s, "
          + "sha256 %.0f MB/s, store write (fsync) %.3f s, verified load %.3f s",
        megabytes, megabytes / encode, megabytes / decode, megabytes / hash, write, load))
  }
}

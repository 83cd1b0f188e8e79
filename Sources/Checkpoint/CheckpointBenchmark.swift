import Foundation

/// Measures the checkpoint path on a synthetic payload, for `iak-stream bench`.
public enum CheckpointBenchmark {
  /// Throughputs and latencies measured by `run`.
  public struct Figures: Sendable, Equatable, CustomStringConvertible {
    /// The size of the encoded payload in bytes.
    public var payloadBytes: Int
    /// The number of tensors in the payload.
    public var tensorCount: Int
    /// `SafeTensors.encoded()` throughput in MB/s (10^6 bytes).
    public var encodeMegabytesPerSecond: Double
    /// `SafeTensors.decode` throughput in MB/s.
    public var decodeMegabytesPerSecond: Double
    /// SHA-256 throughput in MB/s.
    public var sha256MegabytesPerSecond: Double
    /// Seconds for one durable `SnapshotStore.write` (encode, hash, fsyncs, rename, LATEST).
    public var storeWriteSeconds: Double
    /// Seconds for `loadNewestValid` (read, verify checksum, decode).
    public var verifiedLoadSeconds: Double

    /// One line of figures for logs and the bench report.
    public var description: String {
      String(
        format: "checkpoint: %.1f MB in %d tensors: encode %.0f MB/s, decode %.0f MB/s, "
          + "sha256 %.0f MB/s, store write (with fsync) %.3f s, verified load %.3f s",
        Double(payloadBytes) / 1e6, tensorCount, encodeMegabytesPerSecond,
        decodeMegabytesPerSecond, sha256MegabytesPerSecond, storeWriteSeconds,
        verifiedLoadSeconds)
    }
  }

  /// Builds `domains` x 3 F32 tensors of `floatsPerTensor` values, then times encoding,
  /// decoding, hashing, and a store write and verified load in a new folder under `directory`
  /// (removed afterwards).
  ///
  /// Throws `SnapshotStoreError` or `SafeTensorsError` if the folder cannot be used.
  public static func run(
    domains: Int = 200, floatsPerTensor: Int = 10_000, directory: String
  ) throws -> Figures {
    var payload = SafeTensors(metadata: ["kind": "benchmark"])
    var value: UInt32 = 1
    for domain in 0..<domains {
      for tensor in ["encoder.weight", "adam.m", "adam.v"] {
        let values = (0..<floatsPerTensor).map { _ in
          value = value &* 1_664_525 &+ 1_013_904_223
          return Float(value >> 8) / Float(1 << 24)
        }
        payload.tensors["d\(domain)/\(tensor)"] = Tensor(floats: values, shape: [floatsPerTensor])
      }
    }
    var bytes: [UInt8] = []
    let encode = seconds { bytes = payload.encoded() }
    let decode = try seconds { _ = try SafeTensors.decode(bytes) }
    let hash = seconds { _ = SHA256.digest(of: bytes) }
    let folder = directory + "/checkpoint-benchmark-" + AtomicFile.uniqueSuffix()
    defer { try? FileBytes.removeTree(folder) }
    let store = try SnapshotStore(directory: folder, keep: 1)
    let write = try seconds {
      try store.write(payload, offsets: [:], backboneSHA256: "bench", configurationDigest: "bench")
    }
    let load = try seconds { _ = try store.loadNewestValid(expectingBackbone: "bench") }
    let megabytes = Double(bytes.count) / 1e6
    return Figures(
      payloadBytes: bytes.count, tensorCount: payload.tensors.count,
      encodeMegabytesPerSecond: megabytes / encode, decodeMegabytesPerSecond: megabytes / decode,
      sha256MegabytesPerSecond: megabytes / hash, storeWriteSeconds: write,
      verifiedLoadSeconds: load)
  }

  private static func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
  }
}

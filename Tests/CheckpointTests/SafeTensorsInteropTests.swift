import Foundation
import Testing

@testable import Checkpoint

/// Checks files against the reference implementation: Python's `safetensors` with numpy.
@Suite struct SafeTensorsInteropTests {
  /// Runs `python3 -c script arguments...`; returns the exit status and combined output.
  static func python(_ script: String, _ arguments: [String]) throws -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script] + arguments
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
  }

  /// Whether python3 can import safetensors and numpy here.
  static let isPythonAvailable: Bool = {
    (try? python("import safetensors.numpy, numpy", []))?.0 == 0
  }()

  @Test(
    .enabled(
      if: isPythonAvailable,
      "skipped: python3 with the safetensors and numpy packages is not installed (scripts/install-deps)"
    ))
  func pythonLoadsOurFileAndWeLoadPythons() throws {
    let folder = try TemporaryFolder()
    let ours = folder.path + "/ours.safetensors"
    let theirs = folder.path + "/theirs.safetensors"
    let sameAsOurs = folder.path + "/same.safetensors"
    let written = SafeTensors(
      tensors: [
        "paris/w": Tensor(floats: [1.5, -2.25, 3, 0, .infinity, -1e-3], shape: [2, 3]),
        "paris/adam_step": Tensor(int64s: [123_456_789_012], shape: []),
        "paris/rng": Tensor(uint64s: [UInt64.max, 5], shape: [2]),
        "paris/mu": Tensor(doubles: [0.125, -7], shape: [1, 2]),
        "paris/active": Tensor(uint8s: [1, 0, 1], shape: [3]),
        "paris/ids": Tensor(int32s: [-5, 6], shape: [2]),
      ],
      metadata: ["domain": "paris", "backbone_sha256": "ab" + String(repeating: "0", count: 62)])
    try written.write(to: ours)
    // Python checks every value of our file, then writes one of its own, and also writes the
    // same content as a single-dtype file to compare bytes with ours.
    let script = #"""
      import sys, numpy as np
      from safetensors import safe_open
      from safetensors.numpy import load_file, save_file
      ours, theirs, same = sys.argv[1:4]
      t = load_file(ours)
      assert sorted(t) == ["paris/active", "paris/adam_step", "paris/ids", "paris/mu", "paris/rng", "paris/w"], sorted(t)
      assert t["paris/w"].dtype == np.float32 and t["paris/w"].shape == (2, 3)
      assert np.array_equal(t["paris/w"], np.array([[1.5, -2.25, 3], [0, np.inf, -1e-3]], dtype=np.float32))
      assert t["paris/adam_step"].dtype == np.int64 and t["paris/adam_step"].shape == () and int(t["paris/adam_step"]) == 123456789012
      assert t["paris/rng"].dtype == np.uint64 and list(t["paris/rng"]) == [2**64 - 1, 5]
      assert t["paris/mu"].dtype == np.float64 and t["paris/mu"].tolist() == [[0.125, -7.0]]
      assert t["paris/active"].dtype == np.uint8 and t["paris/active"].tolist() == [1, 0, 1]
      assert t["paris/ids"].dtype == np.int32 and t["paris/ids"].tolist() == [-5, 6]
      with safe_open(ours, framework="np") as f:
          assert f.metadata() == {"domain": "paris", "backbone_sha256": "ab" + "0" * 62}, f.metadata()
      save_file({"x/weights": np.arange(6, dtype=np.float32).reshape(3, 2) / 4,
                 "x/count": np.array([7, -8], dtype=np.int64),
                 "x/empty": np.zeros((0, 3), dtype=np.float64)},
                theirs, metadata={"source": "python", "n": "3"})
      save_file({"b": np.array([1, 2], dtype=np.float32), "a": np.zeros((2, 0), dtype=np.float32),
                 "c": np.array(0.5, dtype=np.float32)}, same, metadata={"k1": "v1"})
      print("ok")
      """#
    let (status, output) = try Self.python(script, [ours, theirs, sameAsOurs])
    #expect(status == 0, "python said: \(output)")

    let read = try SafeTensors.read(from: theirs)
    #expect(read.metadata == ["source": "python", "n": "3"])
    #expect(try read.tensors["x/weights"]?.floats() == [0, 0.25, 0.5, 0.75, 1, 1.25])
    #expect(read.tensors["x/weights"]?.shape == [3, 2])
    #expect(try read.tensors["x/count"]?.int64s() == [7, -8])
    #expect(read.tensors["x/empty"]?.shape == [0, 3])
    #expect(read.tensors["x/empty"]?.dtype == .f64)

    // With one dtype and one metadata key (Python keeps metadata in a hash map, so the order of
    // several keys varies) both implementations lay the file out byte for byte the same way.
    let same = SafeTensors(
      tensors: [
        "b": Tensor(floats: [1, 2], shape: [2]),
        "a": Tensor(floats: [], shape: [2, 0]),
        "c": Tensor(floats: [0.5], shape: []),
      ],
      metadata: ["k1": "v1"])
    let pythonBytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: sameAsOurs)))
    #expect(same.encoded() == pythonBytes)
  }
}

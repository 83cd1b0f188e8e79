import Foundation
import Testing

@testable import Learner

@Suite struct BLASRuntimeTests {
  @Test func coreTypeFollowsTheWidestVectorUnit() {
    #expect(
      BLASRuntime.preferredCoreType(cpuFlags: "flags\t: fpu sse2 avx2 avx512f avx512bw")
        == "SkylakeX")
    #expect(BLASRuntime.preferredCoreType(cpuFlags: "flags : fpu sse2 avx avx2 fma") == "Haswell")
    #expect(BLASRuntime.preferredCoreType(cpuFlags: "flags : fpu sse2 avx") == nil)
    #expect(BLASRuntime.preferredCoreType(cpuFlags: "flags : avx512fx") == nil)
  }

  @Test func threadCountCanBeSetToOne() {
    BLASRuntime.useSingleThread()
    #expect(BLASRuntime.threadCount == 1)
    #expect(!BLASRuntime.coreName.isEmpty)
  }

  @Test func multiplyMatchesHandComputedProductsWithBothBetas() {
    // [1 2; 3 4] x [5 6; 7 8] = [19 22; 43 50]
    let a: [Float] = [1, 2, 3, 4]
    let b: [Float] = [5, 6, 7, 8]
    var c: [Float] = [100, 100, 100, 100]
    c.withUnsafeMutableBufferPointer { out in
      BLAS.multiply(m: 2, n: 2, k: 2, a, b, into: out.baseAddress!)
    }
    #expect(c == [19, 22, 43, 50])
    c.withUnsafeMutableBufferPointer { out in
      // a^T x b = [1 3; 2 4] x [5 6; 7 8] = [26 30; 38 44], accumulated.
      BLAS.multiply(m: 2, n: 2, k: 2, a, transposeA: true, b, into: out.baseAddress!, beta: 1)
    }
    #expect(c == [45, 52, 81, 94])
  }

  @Test func coreTypeIsReadFromACpuinfoFile() throws {
    let path = NSTemporaryDirectory() + "iak-cpuinfo-\(UUID().uuidString)"
    defer { try? FileManager.default.removeItem(atPath: path) }
    try "processor\t: 0\nflags\t\t: fpu avx2 avx512f\n\nprocessor\t: 1\n".write(
      toFile: path, atomically: true, encoding: .utf8)
    #expect(BLASRuntime.preferredCoreType(cpuInfoPath: path) == "SkylakeX")
    #expect(BLASRuntime.preferredCoreType(cpuInfoPath: path + ".missing") == nil)
  }
}

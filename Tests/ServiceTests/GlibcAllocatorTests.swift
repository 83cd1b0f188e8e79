import Foundation
import TestSupport
import Testing

@testable import Service

/// The allocator setting the service starts with (`GlibcAllocator`), checked against glibc
/// itself in this process.
@Suite struct GlibcAllocatorTests {
  @Test func anMmapThresholdTheEnvironmentSetsStands() {
    #expect(GlibcAllocator.isMappingThresholdSet(in: ["MALLOC_MMAP_THRESHOLD_": "65536"]))
    #expect(
      GlibcAllocator.isMappingThresholdSet(in: [
        "GLIBC_TUNABLES": "glibc.malloc.arena_max=2:glibc.malloc.mmap_threshold=4096"
      ]))
    #expect(
      !GlibcAllocator.isMappingThresholdSet(in: ["GLIBC_TUNABLES": "glibc.malloc.arena_max=2"]))
    #expect(!GlibcAllocator.isMappingThresholdSet(in: ["PATH": "/usr/bin"]))
    #expect(!GlibcAllocator.fixMappingThreshold(environment: ["MALLOC_MMAP_THRESHOLD_": "65536"]))
  }

  static let reportVariable = "IAK_ALLOCATOR_REPORT"

  /// glibc by default raises its threshold to the size of a mapped block when it is freed, so
  /// a 1 MiB block after a 4 MiB one freed would come from a heap. Fixed, it is mapped on its
  /// own: its usable size is then whole pages less the 16-byte chunk header, where a heap
  /// block's is the request rounded up to 16 bytes, plus 8.
  ///
  /// It runs in a fresh process (`mappedAfterALargerBlockIsFreed`): a block is only mapped when
  /// the heap has no free space for it, and in a test runner that has run other tests it may.
  @Test func withTheThresholdFixedAMegabyteIsMappedAfterALargerBlockIsFreed() throws {
    let report = NSTemporaryDirectory() + "iak-allocator-\(UUID().uuidString).txt"
    defer { try? FileManager.default.removeItem(atPath: report) }
    try InnerTest.run(
      filter: "mappedAfterALargerBlockIsFreed", environment: [Self.reportVariable: report])
    let text = try #require(
      try? String(contentsOfFile: report, encoding: .utf8), "the inner test wrote no report")
    var figures: [String: Int] = [:]
    for pair in text.split(whereSeparator: \.isWhitespace) {
      let parts = pair.split(separator: "=")
      if parts.count == 2, let value = Int(parts[1]) { figures[String(parts[0])] = value }
    }
    #expect(figures["set"] == 1, "\(text)")
    let usable = try #require(figures["usable"], "\(text)")
    let pageSize = try #require(figures["page"], "\(text)")
    #expect(usable >= 1 << 20)
    #expect((usable + 16) % pageSize == 0, "usable \(usable) bytes: not a mapped block")
  }

  /// The inner run of the test above: fixes the threshold, frees a mapped 4 MiB block, takes
  /// 1 MiB, and writes what it saw to the report file.
  @Test(.enabled(if: ProcessInfo.processInfo.environment[reportVariable] != nil))
  func mappedAfterALargerBlockIsFreed() throws {
    let report = try #require(ProcessInfo.processInfo.environment[Self.reportVariable])
    let set = GlibcAllocator.fixMappingThreshold(environment: [:])
    let large = try #require(malloc(4 << 20))
    memset(large, 1, 4 << 20)
    free(large)
    let block = try #require(malloc(1 << 20))
    defer { free(block) }
    memset(block, 1, 1 << 20)
    let usable = try #require(GlibcAllocator.usableSize(of: block))
    let pageSize = sysconf(Int32(_SC_PAGESIZE))
    try "set=\(set ? 1 : 0) usable=\(usable) page=\(pageSize)\n".write(
      toFile: report, atomically: true, encoding: .utf8)
  }
}

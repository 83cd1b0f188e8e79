import Foundation
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

  /// glibc by default raises its threshold to the size of a mapped block when it is freed, so
  /// a 1 MiB block after a 4 MiB one freed would come from a heap. Fixed, it is mapped on its
  /// own: its usable size is then whole pages less the 16-byte chunk header, where a heap
  /// block's is the request rounded up to 16 bytes, plus 8.
  @Test func withTheThresholdFixedAMegabyteIsMappedAfterALargerBlockIsFreed() throws {
    #expect(GlibcAllocator.fixMappingThreshold(environment: [:]))
    let pageSize = sysconf(Int32(_SC_PAGESIZE))
    let large = try #require(malloc(4 << 20))
    memset(large, 1, 4 << 20)
    free(large)
    let block = try #require(malloc(1 << 20))
    defer { free(block) }
    memset(block, 1, 1 << 20)
    let usable = try #require(GlibcAllocator.usableSize(of: block))
    #expect(usable >= 1 << 20)
    #expect((usable + 16) % pageSize == 0, "usable \(usable) bytes: not a mapped block")
  }
}

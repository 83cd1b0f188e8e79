import Foundation
import TestSupport
import Testing

@testable import Learner

/// glibc's `mtrace(void)` and `muntrace(void)` (from <mcheck.h>, which Glibc does not export).
@_silgen_name("mtrace") private func startMallocTrace()
@_silgen_name("muntrace") private func stopMallocTrace()

/// Shows that a kernel training step allocates nothing.
///
/// glibc's `mtrace` logs every malloc between `mtrace()` and `muntrace()` when the process runs
/// with `LD_PRELOAD=libc_malloc_debug.so.0 MALLOC_TRACE=<file>`. The outer test re-runs this
/// test binary that way on the inner test, which trains 50 steps between the two calls, and
/// counts the allocations logged. glibc's `libc_malloc_debug.so.0` is looked for next to the
/// libc the test runs on, whatever the architecture's folder; without it the test fails, naming
/// what is missing, rather than passing without having looked.
@Suite struct AllocationTests {
  static let traceVariable = "IAK_ALLOCATION_TRACE"

  @Test(.enabled(if: ProcessInfo.processInfo.environment[traceVariable] != nil))
  func stepsBetweenTraceMarks() throws {
    let backbone = try Backbone(config: TrainerTests.backboneConfig, seed: 1)
    let engine = KernelEngine(
      backbone: backbone, config: KernelConfig(encoderHidden: 4), capacity: 16)
    var kernel = IAKKernel(
      domain: "d", backbone: backbone.config, config: KernelConfig(encoderHidden: 4), seed: 1)
    let optimizer = AdamOptimizer()
    engine.prepare(TrainerTests.stream(count: 16, seed: 1))
    engine.trainStep(&kernel, rate: 1e-3, optimizer: optimizer, clip: 1)
    startMallocTrace()
    for _ in 0..<50 { engine.trainStep(&kernel, rate: 1e-3, optimizer: optimizer, clip: 1) }
    stopMallocTrace()
  }

  @Test func trainingStepAllocatesNothing() throws {
    let preload = try Self.mallocDebugLibrary()
    // mtrace sees the whole process: an allocation by another thread of the test runner can
    // land between the marks now and then. An allocation in the step itself shows in every
    // run, so the fewest seen over three runs is the step's own count.
    var fewest: [Substring]?
    for _ in 0..<3 where fewest.map({ !$0.isEmpty }) ?? true {
      let allocations = try tracedAllocations(preload: preload)
      if fewest == nil || allocations.count < fewest!.count { fewest = allocations }
    }
    let allocations = try #require(fewest)
    #expect(allocations.count == 0, "\(allocations.count) allocations: \(allocations.prefix(5))")
  }

  private func tracedAllocations(preload: String) throws -> [Substring] {
    let trace = NSTemporaryDirectory() + "iak-mtrace-\(UUID().uuidString).txt"
    defer { try? FileManager.default.removeItem(atPath: trace) }
    try InnerTest.run(
      filter: "stepsBetweenTraceMarks",
      environment: ["LD_PRELOAD": preload, "MALLOC_TRACE": trace, Self.traceVariable: "1"])
    let text = try String(contentsOfFile: trace, encoding: .utf8)
    let lines = text.split(separator: "\n")
    #expect(lines.first?.hasPrefix("= Start") == true, "mtrace did not run: \(lines.prefix(3))")
    return lines.filter { $0.contains(" + ") }
  }

  /// glibc's malloc-debugging library (`mtrace` logs nothing without it), in the folder of the
  /// libc this process runs on: `/usr/lib/x86_64-linux-gnu`, `/usr/lib/aarch64-linux-gnu`, ...
  ///
  /// - Throws: `AllocationTraceUnavailable` saying what is missing and where it was looked for.
  static func mallocDebugLibrary() throws -> String {
    // The libc mapped into this process, as /proc/self/maps names it.
    // (Read to its end: procfs files report a size of 0.)
    let maps =
      FileHandle(forReadingAtPath: "/proc/self/maps").map {
        String(decoding: $0.readDataToEndOfFile(), as: UTF8.self)
      } ?? ""
    guard
      let libcPath = maps.split(separator: "\n").compactMap({ line -> String? in
        guard let path = line.split(separator: " ", omittingEmptySubsequences: true).last,
          path.hasPrefix("/"), path.split(separator: "/").last == "libc.so.6"
        else { return nil }
        return String(path)
      }).first
    else {
      throw AllocationTraceUnavailable(
        reason: "no libc.so.6 in /proc/self/maps: this is not a glibc Linux process")
    }
    let library =
      URL(fileURLWithPath: libcPath).deletingLastPathComponent()
      .appendingPathComponent("libc_malloc_debug.so.0").path
    guard FileManager.default.fileExists(atPath: library) else {
      throw AllocationTraceUnavailable(
        reason: "\(library) does not exist (libc is \(libcPath)); glibc 2.34 or later ships it "
          + "in libc6, and mtrace logs nothing without it")
    }
    return library
  }
}

/// Why the allocation trace cannot run on this machine.
struct AllocationTraceUnavailable: Error, CustomStringConvertible {
  let reason: String
  var description: String { "the allocation check cannot run: \(reason)" }
}

import Foundation
import Testing

@testable import Observability

@Suite struct ProcessMetricsTests {
  @Test func readsThisProcessFromProc() throws {
    #if os(Linux)
      let before = try #require(ProcessMetrics.read())
      // 64 more descriptors and some CPU work: both must show in the next reading.
      let handles = try (0..<64).map { _ in
        try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/stat"))
      }
      defer { for handle in handles { try? handle.close() } }
      var sum = 0.0
      let clock = ContinuousClock()
      let started = clock.now
      while clock.now - started < .milliseconds(200) {
        for index in 0..<10_000 { sum += Double(index).squareRoot() }
      }
      let after = try #require(ProcessMetrics.read())
      #expect(sum > 0)
      #expect(after.openFileDescriptors >= 64 + 3, "\(after)")
      #expect(after.cpuSeconds > before.cpuSeconds, "\(before) then \(after)")
      #expect(after.cpuSeconds >= 0.1, "\(after)")
      #expect(after.residentMemoryBytes > 1_048_576, "\(after)")
      #expect(after.virtualMemoryBytes >= after.residentMemoryBytes, "\(after)")
      #expect(after.maxFileDescriptors >= after.openFileDescriptors, "\(after)")
      // Started before this test, and no earlier than the machine booted.
      let now = Date().timeIntervalSince1970
      #expect(after.startTimeSeconds <= now, "\(after)")
      #expect(after.startTimeSeconds >= now - ProcessInfo.processInfo.systemUptime - 1)
      #expect(after.startTimeSeconds == before.startTimeSeconds)
    #endif
  }

  @Test func aCommandNameWithSpacesAndParenthesesDoesNotShiftTheFields() throws {
    let tail = (3...52).map { "\($0)" }.joined(separator: " ")
    let fields = try #require(ProcessMetrics.statFields("4242 (iak (x) y) \(tail)\n"))
    // Field n of proc(5) is at index n - 3.
    #expect(fields[14 - 3] == "14")
    #expect(fields[22 - 3] == "22")
    #expect(ProcessMetrics.statFields("4242 (short) S 1 2") == nil)
  }

  @Test func theRegistryRendersThemAtEveryScrape() throws {
    #if os(Linux)
      let registry = MetricsRegistry()
      ProcessMetrics.register(in: registry)
      let text = registry.render()
      for name in [
        "process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_start_time_seconds", "process_open_fds",
        "process_max_fds",
      ] {
        let line = try #require(
          text.split(separator: "\n").first { $0.hasPrefix(name + " ") }, "\(name) in \(text)")
        let value = try #require(Double(line.split(separator: " ")[1]))
        #expect(value > 0, "\(line)")
      }
      #expect(text.contains("# TYPE process_cpu_seconds_total counter\n"))
      // Read again at the next render, not frozen at registration.
      let handles = try (0..<32).map { _ in
        try FileHandle(forReadingFrom: URL(fileURLWithPath: "/proc/self/stat"))
      }
      defer { for handle in handles { try? handle.close() } }
      let fds = registry.render().split(separator: "\n")
        .first { $0.hasPrefix("process_open_fds ") }.flatMap { Double($0.split(separator: " ")[1]) }
      #expect((fds ?? 0) >= 32 + 3)
    #endif
  }
}

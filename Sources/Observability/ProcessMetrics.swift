import Foundation

/// The standard `process_*` metrics of Prometheus client libraries, read from `/proc/self` at
/// every scrape (Linux; elsewhere none are registered).
///
/// `process_cpu_seconds_total` (user + system), `process_resident_memory_bytes`,
/// `process_virtual_memory_bytes`, `process_start_time_seconds` (since the Unix epoch),
/// `process_open_fds` and `process_max_fds`.
public enum ProcessMetrics {
  /// One reading of the process's figures.
  public struct Reading: Sendable, Equatable {
    /// User plus system CPU time, in seconds.
    public var cpuSeconds: Double
    /// Resident set size, in bytes.
    public var residentMemoryBytes: Double
    /// Virtual memory size, in bytes.
    public var virtualMemoryBytes: Double
    /// When the process started, in seconds since the Unix epoch.
    public var startTimeSeconds: Double
    /// Open file descriptors.
    public var openFileDescriptors: Double
    /// The soft limit on open file descriptors.
    public var maxFileDescriptors: Double
  }

  /// Registers the `process_*` gauges and counter in `registry`, refreshed at each render; does
  /// nothing where `/proc/self/stat` cannot be read.
  public static func register(in registry: MetricsRegistry) {
    guard read() != nil else { return }
    let cpu = registry.counter(
      "process_cpu_seconds_total", help: "Total user and system CPU time spent in seconds."
    ).with()
    let resident = registry.gauge(
      "process_resident_memory_bytes", help: "Resident memory size in bytes."
    ).with()
    let virtual = registry.gauge(
      "process_virtual_memory_bytes", help: "Virtual memory size in bytes."
    ).with()
    let start = registry.gauge(
      "process_start_time_seconds",
      help: "Start time of the process since unix epoch in seconds."
    ).with()
    let open = registry.gauge(
      "process_open_fds", help: "Number of open file descriptors."
    ).with()
    let max = registry.gauge(
      "process_max_fds", help: "Maximum number of open file descriptors."
    ).with()
    registry.addCollector {
      guard let reading = read() else { return }
      cpu.set(reading.cpuSeconds)
      resident.set(reading.residentMemoryBytes)
      virtual.set(reading.virtualMemoryBytes)
      start.set(reading.startTimeSeconds)
      open.set(reading.openFileDescriptors)
      max.set(reading.maxFileDescriptors)
    }
  }

  /// Reads the process's figures now; nil where `/proc` is missing or unreadable.
  public static func read() -> Reading? {
    #if os(Linux)
      guard let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
        let fields = statFields(stat),
        let system = try? String(contentsOfFile: "/proc/stat", encoding: .utf8),
        let bootTime = system.split(separator: "\n").first(where: { $0.hasPrefix("btime ") })
          .flatMap({ Double($0.dropFirst("btime ".count)) }),
        let descriptors = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd")
      else { return nil }
      // Fields after the command's closing parenthesis, from field 3 (state): utime is 14,
      // stime 15, starttime 22, vsize 23, rss 24 (proc(5)).
      func field(_ number: Int) -> Double { Double(fields[number - 3]) ?? 0 }
      let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
      let pageSize = Double(sysconf(Int32(_SC_PAGESIZE)))
      var limit = rlimit()
      let maxDescriptors =
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0
        ? Double(limit.rlim_cur) : 0
      return Reading(
        cpuSeconds: (field(14) + field(15)) / ticks,
        residentMemoryBytes: field(24) * pageSize,
        virtualMemoryBytes: field(23),
        startTimeSeconds: bootTime + field(22) / ticks,
        // Less the descriptor the listing itself had open.
        openFileDescriptors: Double(max(0, descriptors.count - 1)),
        maxFileDescriptors: maxDescriptors)
    #else
      return nil
    #endif
  }

  /// The space-separated fields of `/proc/self/stat` after the command name (which may hold
  /// spaces and parentheses, so it ends at the last `)`); nil when there are too few.
  static func statFields(_ stat: String) -> [Substring]? {
    guard let close = stat.lastIndex(of: ")") else { return nil }
    let fields = stat[stat.index(after: close)...].split(separator: " ")
    return fields.count >= 22 ? fields : nil
  }
}

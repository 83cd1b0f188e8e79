import Foundation

/// CPU time of each thread of this process, as the kernel counts it (Linux
/// `/proc/self/task/<tid>/`): `schedstat`'s nanoseconds on a CPU, or `stat`'s user and system
/// ticks where `schedstat` is missing. Threads are told apart by the names they gave themselves
/// (`Thread.named`).
struct ThreadTimes {
  /// One thread's name and CPU seconds so far.
  struct Entry {
    /// Its kernel name (`comm`).
    var name: String
    /// CPU seconds it has used.
    var seconds: Double
  }

  /// By thread id.
  var threads: [Int: Entry]

  /// The threads alive now (none where `/proc` cannot be read).
  static func now() -> ThreadTimes {
    let task = "/proc/self/task"
    let ids = (try? FileManager.default.contentsOfDirectory(atPath: task)) ?? []
    var threads: [Int: Entry] = [:]
    for id in ids {
      guard let tid = Int(id),
        let comm = try? String(contentsOfFile: "\(task)/\(id)/comm", encoding: .utf8),
        let seconds = cpuSeconds(of: "\(task)/\(id)")
      else { continue }
      threads[tid] = Entry(
        name: comm.trimmingCharacters(in: .newlines), seconds: seconds)
    }
    return ThreadTimes(threads: threads)
  }

  /// The CPU seconds of the thread whose `/proc` folder is `path`.
  private static func cpuSeconds(of path: String) -> Double? {
    if let text = try? String(contentsOfFile: "\(path)/schedstat", encoding: .utf8),
      let nanoseconds = text.split(separator: " ").first.flatMap({ Double($0) })
    {
      return nanoseconds / 1e9
    }
    // stat: "tid (comm) state ..." with utime and stime the 14th and 15th fields; comm may
    // hold spaces and parentheses, so fields are counted after its last ')'.
    guard let text = try? String(contentsOfFile: "\(path)/stat", encoding: .utf8),
      let close = text.lastIndex(of: ")")
    else { return nil }
    let fields = text[text.index(after: close)...].split(separator: " ")
    guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12])
    else { return nil }
    return (user + system) / Double(max(1, sysconf(Int32(_SC_CLK_TCK))))
  }

  /// CPU seconds used since `earlier` per thread name, threads that started since counted from
  /// zero (threads that ended in between are not seen).
  func secondsByName(since earlier: ThreadTimes) -> [String: Double] {
    var byName: [String: Double] = [:]
    for (tid, entry) in threads {
      // A thread id the kernel gave again to a thread of another name is a new thread.
      let before = earlier.threads[tid].flatMap { $0.name == entry.name ? $0.seconds : nil } ?? 0
      byName[entry.name, default: 0] += max(0, entry.seconds - before)
    }
    return byName
  }
}

import Checkpoint
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

extension KernelPublisher {
  /// Removes the temporary files that interrupted writes (a SIGKILL between creating a kernel
  /// file's temporary copy and renaming it) left anywhere under `folder` (`publish.dir`), and
  /// returns their paths. A temporary file is `.<name>.tmp-<pid>-<random>`; one whose process
  /// still runs (another instance publishing into the same folder) is left alone. What cannot be
  /// removed is in `failures`, for the caller to log.
  public static func removeLeftovers(in folder: String) -> (removed: [String], failures: [String]) {
    var removed: [String] = []
    var failures: [String] = []
    let manager = FileManager.default
    guard let walker = manager.enumerator(atPath: folder) else { return ([], []) }
    while let relative = walker.nextObject() as? String {
      let name = (relative as NSString).lastPathComponent
      guard name.hasPrefix("."), let marker = name.range(of: AtomicFile.temporaryMarker) else {
        continue
      }
      let owner = name[marker.upperBound...].prefix { $0.isNumber }
      if let pid = pid_t(owner), pid != getpid(), kill(pid, 0) == 0 || errno == EPERM {
        continue  // its writer still runs
      }
      let path = folder + "/" + relative
      do {
        try manager.removeItem(atPath: path)
        removed.append(path)
      } catch {
        failures.append("\(path): \(error.localizedDescription)")
      }
    }
    return (removed, failures)
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Whole-file reads and small POSIX helpers that report `errno` instead of losing it.
enum FileBytes {
  /// Reads the whole file at `path`.
  static func readAll(_ path: String) throws(StorageError) -> [UInt8] {
    let descriptor = open(path, O_RDONLY | O_CLOEXEC)
    guard descriptor >= 0 else {
      throw StorageError(stage: .read, path: path, code: errno, action: "reading")
    }
    defer { close(descriptor) }
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let count = chunk.withUnsafeMutableBytes { read(descriptor, $0.baseAddress, $0.count) }
      if count < 0 {
        if errno == EINTR { continue }
        throw StorageError(stage: .read, path: path, code: errno, action: "reading")
      }
      if count == 0 { return bytes }
      bytes.append(contentsOf: chunk[0..<count])
    }
  }

  /// Whether something exists at `path`.
  static func exists(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0
  }

  /// Whether `path` is a directory.
  static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  /// The names in folder `path`, without `.` and `..`.
  static func list(_ path: String) throws(StorageError) -> [String] {
    guard let directory = opendir(path) else {
      throw StorageError(stage: .read, path: path, code: errno, action: "listing")
    }
    defer { closedir(directory) }
    var names: [String] = []
    while let entry = readdir(directory) {
      let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
        String(cString: raw.bindMemory(to: CChar.self).baseAddress!)
      }
      if name != "." && name != ".." { names.append(name) }
    }
    return names
  }

  /// Removes the file or folder tree at `path`; a missing path is not an error.
  static func removeTree(_ path: String) throws(StorageError) {
    var info = stat()
    guard lstat(path, &info) == 0 else {
      if errno == ENOENT { return }
      throw StorageError(stage: .prune, path: path, code: errno, action: "removing")
    }
    if (info.st_mode & S_IFMT) == S_IFDIR {
      for name in try list(path) {
        try removeTree(path + "/" + name)
      }
      guard rmdir(path) == 0 || errno == ENOENT else {
        throw StorageError(stage: .prune, path: path, code: errno, action: "removing")
      }
    } else {
      guard unlink(path) == 0 || errno == ENOENT else {
        throw StorageError(stage: .prune, path: path, code: errno, action: "removing")
      }
    }
  }

  /// The folder part of `path` (`.` when there is none).
  static func parent(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return "." }
    if slash == path.startIndex { return "/" }
    return String(path[..<slash])
  }

  /// The last component of `path`.
  static func lastComponent(of path: String) -> String {
    guard let slash = path.lastIndex(of: "/") else { return path }
    return String(path[path.index(after: slash)...])
  }
}

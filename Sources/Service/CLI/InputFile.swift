import Foundation

/// A file a command is given to read, checked before the command starts its work, so that a
/// wrong path is reported as such rather than as whatever its first reader makes of it.
enum InputFile {
  /// Checks that `path` names a regular file this process can read; `name` is how the command
  /// line or the configuration calls it (`--input`, `input.file`).
  ///
  /// - Throws: `ServiceError` (`io`) naming the path and saying that it does not exist, is a
  ///   folder, or cannot be opened (with the system's reason).
  static func check(_ path: String, named name: String) throws(ServiceError) {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
      throw ServiceError(.io, "\(name) \(path) does not exist")
    }
    if isFolder.boolValue {
      throw ServiceError(.io, "\(name) \(path) is a folder, not a JSON-lines file")
    }
    let descriptor = open(path, O_RDONLY)
    guard descriptor >= 0 else {
      throw ServiceError(.io, "\(name) \(path) cannot be read: \(String(cString: strerror(errno)))")
    }
    close(descriptor)
  }
}

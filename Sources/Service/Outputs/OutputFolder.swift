import Foundation

/// Output files a command writes go into folders it makes, as `pretrain --out` and the
/// snapshot store do: `--summary out/run1/summary.json` works on a fresh clone.
enum OutputFolder {
  /// Makes the folder that will hold the file at `path` (and its parents); a failure is left
  /// to the write that follows, which names the file.
  static func make(for path: String) {
    let folder = (path as NSString).deletingLastPathComponent
    guard !folder.isEmpty else { return }
    try? FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
  }

  /// Checks that `folder` is a folder or does not exist yet; `name` is how the command line
  /// calls it (`--out`).
  ///
  /// - Throws: `ServiceError` (`io`) when something other than a folder is there.
  static func checkFolder(_ folder: String, named name: String) throws(ServiceError) {
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder), !isFolder.boolValue {
      throw ServiceError(
        .io, "\(name) \(folder) exists and is not a folder; give a folder (it is made if missing)")
    }
  }

  /// Makes `folder` and its parents unless it exists (`mkdir -p`); `name` is how errors call
  /// it (`--out`, `publish.dir`).
  ///
  /// - Throws: `ServiceError` (`io`) when something other than a folder is there, or the
  ///   folder cannot be made (with the system's reason).
  static func create(_ folder: String, named name: String) throws(ServiceError) {
    try checkFolder(folder, named: name)
    do {
      try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    } catch {
      throw ServiceError(.io, "cannot make \(name) \(folder): \(reason(of: error))")
    }
  }

  /// The system's reason for a failed file operation (`Not a directory`), rather than
  /// Foundation's error with its user info.
  static func reason(of error: any Error) -> String {
    let error = error as NSError
    if let underlying = error.userInfo[NSUnderlyingErrorKey] as? NSError,
      underlying.domain == NSPOSIXErrorDomain
    {
      return String(cString: strerror(Int32(underlying.code)))
    }
    return error.localizedDescription
  }
}

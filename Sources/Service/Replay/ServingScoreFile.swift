import Base
import Foundation
import Stream

/// The file `replay --serving-scores` writes: one tab-separated line per example, in training
/// order: impression id, domain, label (0/1), backbone logit, kernel logit, served logit
/// (logits as `%.6g`).
final class ServingScoreFile {
  private let handle: FileHandle
  private let path: String
  private var buffer = ""

  /// Creates (or truncates) the file at `path` and writes the header line.
  ///
  /// - Throws: `ServiceError` (`io`) when it cannot be created.
  init(path: String) throws {
    OutputFolder.make(for: path)
    guard FileManager.default.createFile(atPath: path, contents: nil),
      let handle = FileHandle(forWritingAtPath: path)
    else { throw ServiceError(.io, "--serving-scores: cannot create \(path)") }
    self.handle = handle
    self.path = path
    buffer = "id\tdomain\tlabel\tbackbone_logit\tkernel_logit\tserved_logit\n"
  }

  /// Adds one example's line.
  func write(id: String, domain: String, label: Bool, score: ServingScore) {
    let served = score.servesKernel ? score.kernelLogit : score.backboneLogit
    buffer += Self.field(id) + "\t" + domain + (label ? "\t1\t" : "\t0\t")
    buffer += Self.format(score.backboneLogit) + "\t" + Self.format(score.kernelLogit) + "\t"
    buffer += Self.format(served) + "\n"
    if buffer.utf8.count > 1 << 20 { flush() }
  }

  /// Writes what is buffered and syncs the file.
  ///
  /// - Throws: the file system's error when the data cannot be written.
  func finish() throws {
    flush()
    try handle.synchronize()
  }

  /// Closes the file.
  func close() { try? handle.close() }

  private func flush() {
    handle.write(Data(buffer.utf8))
    buffer.removeAll(keepingCapacity: true)
  }

  /// `text` with tabs and line breaks replaced by spaces (ids come from event data).
  private static func field(_ text: String) -> String {
    String(text.map { $0 == "\t" || $0 == "\n" || $0 == "\r" ? " " : $0 })
  }

  private static func format(_ value: Float) -> String { String(format: "%.6g", Double(value)) }
}

import Foundation
import Observability
import Stream

extension MovieLensConverter {
  /// Reads the MovieLens files in `source` and writes the events as JSON lines to `output`; what
  /// `iak-stream dataset movielens --source DIR --out FILE` runs.
  ///
  /// - Throws: `MovieLensError` if a source file is missing or malformed, or `output` cannot be
  ///   written; a failed run leaves no partial `output` behind.
  @discardableResult
  public static func convert(
    source: URL, output: URL, options: Options = Options(), schema: EventSchema = EventSchema(),
    logger: Logger = .disabled
  ) throws(MovieLensError) -> Summary {
    let converter = try MovieLensConverter(directory: source)
    logger.info(
      "read MovieLens ratings", ["source": source.path, "ratings": "\(converter.ratingCount)"])
    let summary = try converter.writeJSONLines(to: output, options: options, schema: schema)
    logger.info(
      "wrote events",
      [
        "out": output.path, "events": "\(summary.events)",
        "impressions": "\(summary.impressions)", "clicks": "\(summary.clicks)",
        "negatives": "\(summary.negatives)",
      ])
    return summary
  }

  /// Writes every event as one JSON line to `output`, through a temporary file renamed at the end;
  /// with `effects`, the impressions in its cells carry their new labels.
  ///
  /// - Throws: `MovieLensError` if the file cannot be created or written.
  @discardableResult
  public func writeJSONLines(
    to output: URL, options: Options = Options(), effects: MovieLensEffects? = nil,
    schema: EventSchema = EventSchema()
  ) throws(MovieLensError) -> Summary {
    let partial = output.appendingPathExtension("partial")
    let manager = FileManager.default
    // The folder is made as `pretrain --out` makes its own: a new user's `out/x/events.jsonl`.
    try? manager.createDirectory(
      at: output.deletingLastPathComponent(), withIntermediateDirectories: true)
    guard manager.createFile(atPath: partial.path, contents: nil),
      let handle = FileHandle(forWritingAtPath: partial.path)
    else {
      throw MovieLensError(
        "cannot create \(partial.path): check that its folder exists and is writable")
    }
    var buffer: [UInt8] = []
    buffer.reserveCapacity(1 << 20)
    do throws(MovieLensError) {
      let summary = try forEachEvent(options: options, effects: effects) {
        (event) throws(MovieLensError) in
        buffer.append(contentsOf: event.jsonLine(schema: schema).utf8)
        buffer.append(0x0A)
        if buffer.count >= 1 << 20 {
          try Self.write(buffer, to: handle, path: partial.path)
          buffer.removeAll(keepingCapacity: true)
        }
      }
      try Self.write(buffer, to: handle, path: partial.path)
      try? handle.synchronize()
      try? handle.close()
      if manager.fileExists(atPath: output.path) { try? manager.removeItem(at: output) }
      do {
        try manager.moveItem(at: partial, to: output)
      } catch {
        throw MovieLensError("cannot rename \(partial.path) to \(output.path): \(error)")
      }
      return summary
    } catch {
      try? handle.close()
      try? manager.removeItem(at: partial)
      throw error
    }
  }

  private static func write(
    _ bytes: [UInt8], to handle: FileHandle, path: String
  ) throws(MovieLensError) {
    do {
      try handle.write(contentsOf: bytes)
    } catch {
      throw MovieLensError("cannot write \(path): \(error.localizedDescription)")
    }
  }
}

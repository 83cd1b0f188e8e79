import Foundation

/// One RecBole atomic file: a header of `name:type` columns, then tab-separated rows.
struct MovieLensTable {
  let file: String
  let header: [String]
  /// (1-based line number in the file, fields) for every non-empty data line.
  let rows: [(Int, [String])]

  /// The positions of the columns named `names` (the part before `:` in the header).
  func columns(_ names: [String]) throws(MovieLensError) -> [Int] {
    var positions: [Int] = []
    for name in names {
      guard let position = header.firstIndex(where: { $0.split(separator: ":").first == name[...] })
      else {
        throw MovieLensError(
          "\(file) line 1: no column '\(name)' in header \(header); expected RecBole's ml-100k "
            + "(run scripts/fetch-data)")
      }
      positions.append(position)
    }
    return positions
  }

  func error(line: Int, _ message: String) -> MovieLensError {
    MovieLensError("\(file) line \(line): \(message)")
  }
}

extension MovieLensTable {
  /// Reads the atomic file `name` in `directory`.
  static func read(_ directory: URL, _ name: String) throws(MovieLensError) -> MovieLensTable {
    let url = directory.appendingPathComponent(name)
    let text: String
    do {
      text = try String(contentsOf: url, encoding: .utf8)
    } catch {
      throw MovieLensError(
        "cannot read \(url.path): \(error.localizedDescription); run scripts/fetch-data or "
          + "pass --source DIR holding ml-100k.inter, ml-100k.user and ml-100k.item")
    }
    var lines = text.split(separator: "\n", omittingEmptySubsequences: false).enumerated()
      .makeIterator()
    guard let (_, headerLine) = lines.next(), !headerLine.isEmpty else {
      throw MovieLensError("\(url.path) line 1: missing header")
    }
    let header = headerLine.split(separator: "\t").map(String.init)
    var rows: [(Int, [String])] = []
    for (index, line) in lines where !line.isEmpty {
      let fields = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
      guard fields.count == header.count else {
        throw MovieLensError(
          "\(url.path) line \(index + 1): \(fields.count) tab-separated fields, header has "
            + "\(header.count)")
      }
      rows.append((index + 1, fields))
    }
    return MovieLensTable(file: url.path, header: header, rows: rows)
  }
}

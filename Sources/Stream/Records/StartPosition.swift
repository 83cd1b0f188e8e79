import Foundation

/// Where a replay starts in a topic: `earliest`, `latest`, explicit `partition:offset` pairs,
/// or the first record at or after a timestamp.
public enum StartPosition: Sendable, Equatable {
  /// The first retained record of every partition.
  case earliest
  /// The end of every partition (only new records).
  case latest
  /// These partitions from these offsets; other partitions are not read.
  case offsets([Int32: Int64])
  /// Every partition from its first record with a timestamp at or after this (ms since epoch).
  case timestamp(Int64)

  /// Parses `earliest`, `latest`, or `PARTITION:OFFSET[,PARTITION:OFFSET...]`.
  /// - Throws: `KafkaError` (`.invalidInput`) naming the bad part and the accepted forms.
  public init(parsing text: String) throws(KafkaError) {
    let trimmed = text.trimmingCharacters(in: .whitespaces)
    switch trimmed.lowercased() {
    case "earliest", "beginning": self = .earliest
    case "latest", "end": self = .latest
    default:
      var offsets: [Int32: Int64] = [:]
      for part in trimmed.split(separator: ",", omittingEmptySubsequences: false) {
        let pieces = part.split(separator: ":", omittingEmptySubsequences: false)
        guard pieces.count == 2,
          let partition = Int32(pieces[0].trimmingCharacters(in: .whitespaces)), partition >= 0,
          let offset = Int64(pieces[1].trimmingCharacters(in: .whitespaces)), offset >= 0
        else {
          throw KafkaError(
            code: .invalidInput,
            message:
              "start position '\(text)': cannot read '\(part)'; use earliest, latest or "
              + "PARTITION:OFFSET[,PARTITION:OFFSET...] with non-negative numbers")
        }
        guard offsets.updateValue(offset, forKey: partition) == nil else {
          throw KafkaError(
            code: .invalidInput,
            message: "start position '\(text)': partition \(partition) is given twice")
        }
      }
      self = .offsets(offsets)
    }
  }
}

import Base

extension LearnerError {
  /// The error for binary snapshot bytes that cannot be read back: `source` names them (e.g.
  /// "domain 'x': tensor 'x/pending'"), `problem` says what is wrong and at which byte.
  static func damagedBytes(_ source: String, _ problem: ByteReadError) -> LearnerError {
    .invalidModel("\(source): \(problem); the bytes are damaged, restore an earlier snapshot")
  }
}

/// What `serve` does when a partition's offsets went backwards below its trained state (the
/// topic was deleted and created again, or truncated): `--on-offset-reset`.
enum OffsetResetPolicy: String, CaseIterable, Sendable {
  /// Stop with an error that names the partition and the choices (the default: nothing is
  /// skipped and nothing is trained twice behind the operator's back).
  case fail
  /// Keep the trained state and read the partition from its log start: its records are new.
  case resumeFromSnapshot = "resume-from-snapshot"
  /// Forget the partition's trained state (its domains' kernels, open impressions and counts)
  /// and train it anew from its log start.
  case startOver = "start-over"

  /// Reads the option's value (nil: the default, `fail`).
  /// - Throws: `UsageError` naming the accepted values.
  static func parse(_ text: String?) throws -> OffsetResetPolicy {
    guard let text else { return .fail }
    guard let policy = OffsetResetPolicy(rawValue: text) else {
      throw UsageError(
        "--on-offset-reset \(text): expected one of "
          + allCases.map(\.rawValue).joined(separator: ", "))
    }
    return policy
  }
}

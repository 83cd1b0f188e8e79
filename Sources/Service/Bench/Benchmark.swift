/// The benchmarks `iak-stream bench` runs, in the order its help lists them: the one list its
/// summary, usage, errors and dispatch all come from.
enum Benchmark: String, CaseIterable {
  case learner, steps, decode, kafka, checkpoint, serve, soak
  case `guard`

  /// Every benchmark's name separated by `separator`, e.g. `learner|steps|...|guard`.
  static func names(separatedBy separator: String) -> String {
    allCases.map(\.rawValue).joined(separator: separator)
  }

  /// Every benchmark's name as a phrase: `learner, steps, ..., soak or guard`.
  static var phrase: String {
    allCases.dropLast().map(\.rawValue).joined(separator: ", ") + " or "
      + allCases.last!.rawValue
  }
}

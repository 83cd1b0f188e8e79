import Testing

/// The checks of one reliability scenario (issue 8) and its one-line summary: what was done,
/// what was checked, the figures, pass or fail.
final class ScenarioReport {
  let name: String
  private(set) var checks = 0
  private(set) var failures: [String] = []

  init(_ name: String) { self.name = name }

  /// Expects `condition` (a test issue when false) and remembers it for the summary.
  func check(
    _ condition: Bool, _ what: @autoclosure () -> String,
    sourceLocation: SourceLocation = #_sourceLocation
  ) {
    checks += 1
    guard !condition else { return }
    let text = what()
    failures.append(text)
    Issue.record(Comment(rawValue: text), sourceLocation: sourceLocation)
  }

  /// Prints the scenario's line.
  func finish(did: String, checked: String, figures: String) {
    let verdict =
      failures.isEmpty
      ? "pass" : "FAIL (\(failures.count) of \(checks) checks, first: \(failures[0]))"
    print("scenario \(name): \(did); checked \(checked) (\(checks) checks); \(figures): \(verdict)")
  }
}

/// How urgent a drift firing is, matching the `severity` labels of the shipped Prometheus rules.
public enum DriftSeverity: String, Sendable, Comparable {
  /// Worth knowing; no one needs to act.
  case info
  /// Someone should look at the kernel.
  case warning
  /// The kernel hurts predictions now.
  case critical

  /// Orders severities from `info` to `critical`.
  public static func < (lhs: DriftSeverity, rhs: DriftSeverity) -> Bool {
    func rank(_ severity: DriftSeverity) -> Int {
      switch severity {
      case .info: 0
      case .warning: 1
      case .critical: 2
      }
    }
    return rank(lhs) < rank(rhs)
  }
}

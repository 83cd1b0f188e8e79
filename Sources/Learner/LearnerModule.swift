/// The Learner module of iak-stream; see DESIGN.md for its role.
public enum LearnerModule {
  /// The module's name, for diagnostics.
  public static let name = "Learner"
}

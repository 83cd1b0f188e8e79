/// The Checkpoint module of iak-stream; see DESIGN.md for its role.
public enum CheckpointModule {
  /// The module's name, for diagnostics.
  public static let name = "Checkpoint"
}

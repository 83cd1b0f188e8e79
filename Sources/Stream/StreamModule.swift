/// The Stream module of iak-stream; see DESIGN.md for its role.
public enum StreamModule {
  /// The module's name, for diagnostics.
  public static let name = "Stream"
}

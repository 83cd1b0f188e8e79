/// The Service module of iak-stream; see DESIGN.md for its role.
public enum ServiceModule {
  /// The module's name, for diagnostics.
  public static let name = "Service"
}

import Foundation

/// Entry point of the `iak-stream` executable.
public enum CommandLineTool {
  /// Runs the command named in `arguments` and returns the process exit code.
  public static func main(arguments: [String]) -> Int32 {
    0
  }
}

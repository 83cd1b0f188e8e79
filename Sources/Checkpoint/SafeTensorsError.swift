/// Why safetensors bytes or a tensor could not be read, made or written.
///
/// `kind` lets callers react; `message` says what was wrong, where, and what to do.
public struct SafeTensorsError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The class of problem.
  public enum Kind: String, Sendable {
    /// The file is shorter than its header says, or shorter than 8 bytes.
    case truncated
    /// The header is not valid UTF-8 JSON of the expected shape.
    case invalidHeader
    /// A tensor entry names an unsupported dtype.
    case unknownDType
    /// A tensor's shape is malformed or does not match its byte count.
    case invalidShape
    /// Data offsets are out of bounds, overlap, leave gaps, or leave bytes unclaimed.
    case invalidOffsets
    /// A tensor was read as another dtype than it holds.
    case dtypeMismatch
    /// The file could not be read or written.
    case io
  }

  /// The class of problem.
  public var kind: Kind
  /// A sentence saying what was wrong, where, and what to do.
  public var message: String

  /// Creates an error of `kind` explained by `message`.
  public init(_ kind: Kind, _ message: String) {
    self.kind = kind
    self.message = message
  }

  /// The message, prefixed with the module's name for logs.
  public var description: String { "safetensors: \(message)" }
}

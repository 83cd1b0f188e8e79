extension JSONScanner {
  /// What the scanner refused and where; parsers turn it into their own errors.
  public struct Fault: Error, Equatable, Sendable {
    /// What was wrong.
    public var kind: Kind
    /// The byte offset of the problem.
    public var offset: Int
    /// For a fault in a `\u` escape's digits: the offset of its first digit.
    public var escapeOffset: Int?
    /// For a fault in a surrogate pair: the offset just after the high surrogate's digits.
    public var surrogateOffset: Int?

    /// Creates a fault.
    @inlinable
    public init(
      _ kind: Kind, offset: Int, escapeOffset: Int? = nil, surrogateOffset: Int? = nil
    ) {
      self.kind = kind
      self.offset = offset
      self.escapeOffset = escapeOffset
      self.surrogateOffset = surrogateOffset
    }

    /// The kinds of lexical fault.
    public enum Kind: Equatable, Sendable {
      /// An unescaped byte below 0x20 inside a string.
      case controlCharacter(UInt8)
      /// The bytes end inside a string.
      case unterminatedString
      /// The bytes end just after a backslash.
      case unterminatedEscape
      /// A backslash followed by this byte, which starts no escape.
      case invalidEscape(UInt8)
      /// Fewer than four bytes after `\u`.
      case truncatedUnicodeEscape
      /// A byte of a `\u` escape that is not a hex digit.
      case invalidHexDigit
      /// A high surrogate escape not followed by another `\u` escape.
      case loneHighSurrogate
      /// A high surrogate escape followed by an escape that is not a low surrogate.
      case missingLowSurrogate
      /// A low surrogate escape with no high surrogate before it.
      case loneLowSurrogate
      /// Bytes that are not UTF-8.
      case invalidUTF8(UTF8Problem)
      /// No digit where a number needs one (after `-`, or at its start).
      case expectedDigit
      /// No digit after a number's `.`.
      case expectedFractionDigit
      /// No digit in a number's exponent.
      case expectedExponentDigit
      /// Arrays and objects nested deeper than the limit.
      case tooDeep
    }

    /// Why bytes are not UTF-8.
    public enum UTF8Problem: Equatable, Sendable {
      /// A byte that starts no UTF-8 sequence (a continuation byte, 0xC0, 0xC1, 0xF5 and up).
      case leadByte(UInt8)
      /// The bytes end inside a sequence.
      case truncated
      /// A byte inside a sequence that is not a continuation byte.
      case continuationByte(UInt8)
      /// An overlong form, a surrogate, or a value past U+10FFFF.
      case invalidSequence
    }
  }
}

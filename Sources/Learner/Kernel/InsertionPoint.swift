/// Where a kernel reads and modifies the backbone's representation (`iak.insert_at`).
public enum InsertionPoint: Sendable, Equatable, Hashable, CustomStringConvertible {
  /// `x0`, the concatenated embeddings and numerics.
  case embedding
  /// The output of hidden layer `n` (1-based, after its ReLU).
  case hidden(Int)

  /// Parses "embedding" or "hidden1".."hiddenL"; nil for anything else.
  public init?(name: String) {
    if name == "embedding" {
      self = .embedding
    } else if name.hasPrefix("hidden"), let number = Int(name.dropFirst(6)), number >= 1 {
      self = .hidden(number)
    } else {
      return nil
    }
  }

  /// The configuration name, e.g. "hidden1".
  public var description: String {
    switch self {
    case .embedding: "embedding"
    case .hidden(let number): "hidden\(number)"
    }
  }

  /// The backbone level: 0 for the embedding, n for hidden layer n.
  public var level: Int {
    switch self {
    case .embedding: 0
    case .hidden(let number): number
    }
  }
}

/// The stable 64-bit hash that maps a categorical value to its embedding bucket.
///
/// The hash is FNV-1a 64 over the UTF-8 bytes of `"<field>=<value>"`, started from the FNV
/// offset basis XOR-ed with the seed: `h = 0xcbf29ce484222325 ^ seed`, then for every byte
/// `h = (h ^ byte) &* 0x100000001b3`. The bucket is `h % buckets`. It is the same on every platform
/// and in every process (unlike Swift's `Hasher`), and takes three lines of Python to reproduce.
public struct FeatureHasher: Sendable, Equatable {
  /// The seed mixed into the FNV offset basis (`backbone.hash_seed`).
  public var seed: UInt64

  /// Creates a hasher with the given seed.
  public init(seed: UInt64) { self.seed = seed }

  /// The 64-bit hash of `"<field>=<value>"`.
  public func hash(field: String, value: String) -> UInt64 {
    Self.hash(value: value, after: state(afterField: field))
  }

  /// The hash state after `"<field>="`: the part of `hash(field:value:)` that is the same for
  /// every value of `field`, which a caller hashing many values of a few fields keeps.
  func state(afterField field: String) -> UInt64 {
    var state: UInt64 = 0xcbf2_9ce4_8422_2325 ^ seed
    for byte in field.utf8 { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return (state ^ UInt64(UInt8(ascii: "="))) &* 0x100_0000_01b3
  }

  /// The hash of `"<field>=<value>"` from `state(afterField: field)`.
  static func hash(value: String, after fieldState: UInt64) -> UInt64 {
    var state = fieldState
    for byte in value.utf8 { state = (state ^ UInt64(byte)) &* 0x100_0000_01b3 }
    return state
  }

  /// The bucket in `0..<buckets` of `"<field>=<value>"`.
  public func bucket(field: String, value: String, buckets: Int) -> Int {
    Self.bucket(of: hash(field: field, value: value), buckets: buckets)
  }

  /// The bucket in `0..<buckets` of a hash.
  static func bucket(of hash: UInt64, buckets: Int) -> Int {
    Int(hash % UInt64(max(1, buckets)))
  }
}

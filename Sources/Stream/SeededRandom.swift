/// A small seeded generator (SplitMix64) whose output never changes between Swift versions: a
/// `--negatives K --seed S` conversion is the same file everywhere, and a test or scenario that
/// prints its seed can be repeated exactly.
public struct SeededRandom: RandomNumberGenerator, Sendable {
  private var state: UInt64

  /// Creates a generator starting from `seed`.
  public init(seed: UInt64) { state = seed }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var mixed = state
    mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
    mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
    return mixed ^ (mixed >> 31)
  }

  /// A uniform index in `0..<count` (multiply-shift; the bias is below 2^-50 for our sizes).
  public mutating func index(below count: Int) -> Int {
    Int(UInt64(count).multipliedFullWidth(by: next()).high)
  }
}

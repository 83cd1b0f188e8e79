/// SplitMix64, the one seeded random generator of the project, whose output never changes
/// between Swift versions: a `--negatives K --seed S` conversion is the same file everywhere, a
/// test or scenario that prints its seed can be repeated exactly, and a kernel's noise (its whole
/// state one `UInt64`) survives a snapshot bit for bit.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
  /// The generator's complete state.
  public var state: UInt64

  /// Creates a generator starting from `seed` (its state).
  @inlinable
  public init(seed: UInt64) { state = seed }

  /// Creates a generator with the given state.
  @inlinable
  public init(state: UInt64) { self.state = state }

  /// The next 64 random bits.
  @inlinable @inline(__always)
  public mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var mixed = state
    mixed = (mixed ^ (mixed >> 30)) &* 0xBF58_476D_1CE4_E5B9
    mixed = (mixed ^ (mixed >> 27)) &* 0x94D0_49BB_1331_11EB
    return mixed ^ (mixed >> 31)
  }

  /// A uniform index in `0..<count` (multiply-shift; the bias is below 2^-50 for our sizes).
  @inlinable
  public mutating func index(below count: Int) -> Int {
    Int(UInt64(count).multipliedFullWidth(by: next()).high)
  }

  /// A uniform value in the open interval (0, 1), from the top 53 bits of one draw.
  @inlinable @inline(__always)
  public mutating func nextUniform() -> Double {
    (Double(next() >> 11) + 0.5) * (1.0 / 9_007_199_254_740_992.0)
  }

  /// A uniform integer in `0..<bound` (bound > 0) by the remainder of one draw.
  @inlinable @inline(__always)
  public mutating func nextInt(below bound: Int) -> Int {
    Int(next() % UInt64(max(1, bound)))
  }
}

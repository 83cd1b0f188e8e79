import Foundation

/// A small seedable random generator (SplitMix64) whose whole state is one exportable `UInt64`.
///
/// Each kernel owns one, seeded from its domain name and `train.seed`, so the noise of the
/// reparameterisation (and so training) is reproducible and survives a snapshot bit for bit.
public struct NoiseGenerator: Sendable, Equatable {
  /// The generator's complete state.
  public var state: UInt64

  /// Creates a generator with the given state.
  public init(state: UInt64) { self.state = state }

  /// Creates the generator of a domain: the state is the FNV-1a hash of the domain name, mixed
  /// with the seed.
  public init(domain: String, seed: UInt64) {
    let hashed = FeatureHasher(seed: seed).hash(field: "domain", value: domain)
    var mixer = NoiseGenerator(state: hashed)
    self.state = mixer.next()
  }

  /// The next 64 random bits.
  @inline(__always)
  public mutating func next() -> UInt64 {
    state &+= 0x9e37_79b9_7f4a_7c15
    var mixed = state
    mixed = (mixed ^ (mixed >> 30)) &* 0xbf58_476d_1ce4_e5b9
    mixed = (mixed ^ (mixed >> 27)) &* 0x94d0_49bb_1331_11eb
    return mixed ^ (mixed >> 31)
  }

  /// A uniform value in the open interval (0, 1).
  @inline(__always)
  public mutating func nextUniform() -> Double {
    (Double(next() >> 11) + 0.5) * (1.0 / 9_007_199_254_740_992.0)
  }

  /// A uniform integer in `0..<bound` (bound > 0).
  @inline(__always)
  public mutating func nextInt(below bound: Int) -> Int {
    Int(next() % UInt64(max(1, bound)))
  }

  /// Fills `values` with standard normal samples (Box-Muller, two samples per pair of draws).
  public mutating func fillGaussian(_ values: UnsafeMutablePointer<Float>, count: Int) {
    var index = 0
    while index < count {
      let radius = (-2 * log(nextUniform())).squareRoot()
      let angle = 2 * Double.pi * nextUniform()
      values[index] = Float(radius * cos(angle))
      if index + 1 < count { values[index + 1] = Float(radius * sin(angle)) }
      index += 2
    }
  }
}

import Base
import Foundation

/// A kernel's source of noise: Base's SplitMix64, seeded from its domain name and `train.seed`,
/// whose whole state is one exportable `UInt64`.
///
/// The noise of the reparameterisation (and so training) is reproducible and survives a snapshot
/// bit for bit.
public struct NoiseGenerator: Sendable, Equatable {
  /// The generator that draws the bits.
  private var random: SplitMix64

  /// The generator's complete state.
  public var state: UInt64 {
    get { random.state }
    set { random.state = newValue }
  }

  /// Creates a generator with the given state.
  public init(state: UInt64) { random = SplitMix64(state: state) }

  /// Creates the generator of a domain: the state is the FNV-1a hash of the domain name, mixed
  /// with the seed.
  public init(domain: String, seed: UInt64) {
    let hashed = FeatureHasher(seed: seed).hash(field: "domain", value: domain)
    var mixer = SplitMix64(state: hashed)
    random = SplitMix64(state: mixer.next())
  }

  /// The next 64 random bits.
  @inline(__always)
  public mutating func next() -> UInt64 { random.next() }

  /// A uniform value in the open interval (0, 1).
  @inline(__always)
  public mutating func nextUniform() -> Double { random.nextUniform() }

  /// A uniform integer in `0..<bound` (bound > 0).
  @inline(__always)
  public mutating func nextInt(below bound: Int) -> Int { random.nextInt(below: bound) }

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

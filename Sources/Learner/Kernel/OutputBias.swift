/// A per-domain logit bias trained with Adam: the simplest adaptation, for comparisons.
public struct OutputBias: Sendable, Equatable {
  /// The bias added to the backbone's logit.
  public internal(set) var value: Float = 0
  /// Adam's first moment.
  var firstMoment: Float = 0
  /// Adam's second moment.
  var secondMoment: Float = 0
  /// Adam steps taken.
  public internal(set) var stepCount = 0

  /// Creates a zero bias.
  public init() {}

  /// One Adam step on the mean cross-entropy of `backboneLogits + value` against `labels`.
  mutating func step(
    backboneLogits: UnsafePointer<Float>, labels: UnsafePointer<Float>, rows: Int, rate: Float,
    optimizer: AdamOptimizer
  ) {
    var gradient: Float = 0
    for row in 0..<rows {
      gradient += Logistic.sigmoid(backboneLogits[row] + value) - labels[row]
    }
    gradient /= Float(max(1, rows))
    stepCount += 1
    let corrected = optimizer.correctedRate(rate, step: stepCount)
    withUnsafeMutablePointer(to: &value) { parameter in
      withUnsafeMutablePointer(to: &firstMoment) { m in
        withUnsafeMutablePointer(to: &secondMoment) { v in
          withUnsafePointer(to: gradient) { g in
            optimizer.update(
              parameters: parameter, gradient: g, firstMoment: m, secondMoment: v, count: 1,
              correctedRate: corrected)
          }
        }
      }
    }
  }
}

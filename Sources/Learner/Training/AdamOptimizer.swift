import Foundation

/// Adam with bias correction, updating parameters in place from a gradient.
///
/// `m = b1 m + (1 - b1) g`, `v = b2 v + (1 - b2) g^2`,
/// `p -= lr * sqrt(1 - b2^t) / (1 - b1^t) * m / (sqrt(v) + eps)` with t the 1-based step.
struct AdamOptimizer: Sendable, Equatable {
  /// First-moment decay.
  var beta1: Float
  /// Second-moment decay.
  var beta2: Float
  /// Denominator epsilon.
  var epsilon: Float

  /// Creates the optimiser of a training configuration.
  init(_ config: TrainConfig) {
    self.init(beta1: config.adamBeta1, beta2: config.adamBeta2, epsilon: config.adamEpsilon)
  }

  /// Creates an optimiser with the given constants.
  init(beta1: Float = 0.9, beta2: Float = 0.999, epsilon: Float = 1e-8) {
    self.beta1 = beta1
    self.beta2 = beta2
    self.epsilon = epsilon
  }

  /// The bias-corrected step size at 1-based step `step`.
  func correctedRate(_ rate: Float, step: Int) -> Float {
    let t = Double(step)
    let correction = (1 - pow(Double(beta2), t)).squareRoot() / (1 - pow(Double(beta1), t))
    return Float(Double(rate) * correction)
  }

  /// Applies one update to `count` parameters with an already bias-corrected rate, the
  /// gradient scaled by `gradientScale` (for clipping).
  ///
  /// Eight parameters at a time: each lane does the same operations in the same order as one
  /// parameter alone would, so the result is the same bits as an element-by-element loop.
  @inline(__always)
  func update(
    parameters: UnsafeMutablePointer<Float>, gradient: UnsafePointer<Float>,
    firstMoment: UnsafeMutablePointer<Float>, secondMoment: UnsafeMutablePointer<Float>,
    count: Int, correctedRate: Float, gradientScale: Float = 1
  ) {
    let b1 = beta1
    let b2 = beta2
    let keep1 = 1 - b1
    let keep2 = 1 - b2
    var index = 0
    while index + 8 <= count {
      let g =
        UnsafeRawPointer(gradient + index).loadUnaligned(as: SIMD8<Float>.self) * gradientScale
      let m =
        b1 * UnsafeRawPointer(firstMoment + index).loadUnaligned(as: SIMD8<Float>.self) + keep1 * g
      let v =
        b2 * UnsafeRawPointer(secondMoment + index).loadUnaligned(as: SIMD8<Float>.self) + keep2
        * g * g
      let step = correctedRate * m / (v.squareRoot() + epsilon)
      let p = UnsafeRawPointer(parameters + index).loadUnaligned(as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(firstMoment + index).storeBytes(of: m, as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(secondMoment + index).storeBytes(of: v, as: SIMD8<Float>.self)
      UnsafeMutableRawPointer(parameters + index).storeBytes(of: p - step, as: SIMD8<Float>.self)
      index += 8
    }
    while index < count {
      let g = gradient[index] * gradientScale
      let m = b1 * firstMoment[index] + keep1 * g
      let v = b2 * secondMoment[index] + keep2 * g * g
      firstMoment[index] = m
      secondMoment[index] = v
      parameters[index] -= correctedRate * m / (v.squareRoot() + epsilon)
      index += 1
    }
  }

  /// The factor that brings the gradient's global L2 norm down to `clip` (1 when it is
  /// already within, or when `clip` is 0).
  ///
  /// The norm is the square root of the squares summed in order. Most steps are well within
  /// `clip`, and that is first checked on a sum of eight lanes (fast, but rounded differently):
  /// both sums lie within `count * 2^-24` (relative) of the exact one, so when the lane sum is
  /// below `clip^2` by twice that margin the ordered sum is too, and the factor is 1 as it
  /// would have been. Otherwise the ordered sum decides, so the factor never depends on the
  /// shortcut.
  static func clippingScale(_ gradient: UnsafePointer<Float>, count: Int, clip: Float) -> Float {
    if clip <= 0 { return 1 }
    var lanes = SIMD8<Float>()
    var index = 0
    while index + 8 <= count {
      let g = UnsafeRawPointer(gradient + index).loadUnaligned(as: SIMD8<Float>.self)
      lanes += g * g
      index += 8
    }
    var estimate = lanes.sum()
    while index < count {
      estimate += gradient[index] * gradient[index]
      index += 1
    }
    let margin = 1 + 2 * Float(count) * Float.ulpOfOne
    if estimate.isFinite && estimate * margin < clip * clip { return 1 }
    var squares: Float = 0
    for index in 0..<count { squares += gradient[index] * gradient[index] }
    let norm = squares.squareRoot()
    return norm > clip && norm.isFinite ? clip / norm : (norm.isFinite ? 1 : 0)
  }
}

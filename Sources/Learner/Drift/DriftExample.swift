import Foundation

/// One scored example as the drift detectors see it: the kernel's and the backbone's
/// cross-entropy on it (scored before training on it) and its label.
public struct DriftExample: Sendable, Equatable {
  /// Cross-entropy of the prediction with the domain's kernel, in nats.
  public var kernelLoss: Double
  /// Cross-entropy of the frozen backbone's prediction, in nats.
  public var backboneLoss: Double
  /// The label: 1 for a click, 0 for none (values in between are read as a click probability).
  public var label: Double
  /// The two logits, when the example was made from them: what the serving guard compares
  /// (ranking needs scores, not losses).
  public var logits: (kernel: Float, backbone: Float)?

  /// Creates an example from its two losses (nats) and its label.
  public init(kernelLoss: Double, backboneLoss: Double, label: Double) {
    self.kernelLoss = kernelLoss
    self.backboneLoss = backboneLoss
    self.label = label
  }

  /// Examples are equal when their losses and labels are (what the relevance window keeps; a
  /// restored window has no logits).
  public static func == (lhs: DriftExample, rhs: DriftExample) -> Bool {
    lhs.kernelLoss == rhs.kernelLoss && lhs.backboneLoss == rhs.backboneLoss
      && lhs.label == rhs.label
  }

  /// Creates an example from the two logits (before the sigmoid) and the label, computing each
  /// cross-entropy without overflow: `max(x, 0) - x y + log(1 + exp(-|x|))`.
  public init(kernelLogit: Float, backboneLogit: Float, label: Float) {
    self.init(
      kernelLoss: DriftExample.crossEntropy(logit: Double(kernelLogit), label: Double(label)),
      backboneLoss: DriftExample.crossEntropy(logit: Double(backboneLogit), label: Double(label)),
      label: Double(label))
    logits = (kernelLogit, backboneLogit)
  }

  /// Whether the losses are finite and non-negative and the label is in [0, 1]; the detectors
  /// skip (and count) examples that are not.
  public var isValid: Bool {
    kernelLoss.isFinite && kernelLoss >= 0 && backboneLoss.isFinite && backboneLoss >= 0
      && label >= 0 && label <= 1
  }

  /// Binary cross-entropy of `sigmoid(logit)` against `label`, in nats.
  static func crossEntropy(logit: Double, label: Double) -> Double {
    max(logit, 0) - logit * label + log1p(exp(-abs(logit)))
  }
}

/// What the drift detectors of one domain learn from one closed batch (or one optimiser step):
/// the kernel's information proxies when the batch was scored, and the batch's scored examples.
///
/// The learner fills it from its batch report and `InformationProxies`; the detectors depend on
/// nothing else, so they can be fed from a replay, a test or another learner.
public struct DriftObservation: Sendable, Equatable {
  /// Optimiser steps the domain's kernel had taken when it scored these examples. A value below
  /// the previous observation's means the kernel was replaced (reset or rolled back).
  public var step: Int
  /// Event time of the newest example, in milliseconds since the Unix epoch.
  public var eventTimeMs: Int64
  /// Version of the kernel that scored the examples (carried into events, never interpreted).
  public var kernelVersion: Int
  /// Bottleneck dimensions whose mean KL exceeds the active-unit threshold.
  public var activeUnits: Int
  /// Mean `||delta||` over mean `||h||`: ~0 when the kernel is the identity.
  public var relativeDecoderNorm: Double
  /// Variance of mu across the batch, averaged over dimensions: ~0 when z is constant.
  public var muVariance: Double
  /// `E[KL(q(z|x) || N(0, I))]` summed over dimensions, in nats (the compression proxy).
  public var meanKL: Double
  /// The examples in the order they were scored.
  public var examples: [DriftExample]

  /// Creates an observation; see the properties for units.
  public init(
    step: Int, eventTimeMs: Int64, kernelVersion: Int, activeUnits: Int,
    relativeDecoderNorm: Double, muVariance: Double, meanKL: Double, examples: [DriftExample]
  ) {
    self.step = step
    self.eventTimeMs = eventTimeMs
    self.kernelVersion = kernelVersion
    self.activeUnits = activeUnits
    self.relativeDecoderNorm = relativeDecoderNorm
    self.muVariance = muVariance
    self.meanKL = meanKL
    self.examples = examples
  }
}

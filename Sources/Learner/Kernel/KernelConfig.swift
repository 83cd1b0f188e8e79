/// The shape and loss of every IAK kernel (`iak.*` keys).
public struct KernelConfig: Sendable, Equatable {
  /// The backbone layer the kernel modifies (`iak.insert_at`); default `hidden1`.
  public var insertAt: InsertionPoint
  /// Width k of the bottleneck z (`iak.bottleneck`); default 8.
  public var bottleneck: Int
  /// Width of the encoder's optional ReLU hidden layer, 0 for none (`iak.encoder_hidden`);
  /// default 0.
  public var encoderHidden: Int
  /// Weight of the KL term once warmed up (`iak.beta`); default 0.001.
  public var beta: Float
  /// Optimiser steps over which beta ramps linearly from 0 to `beta` (`iak.beta_warmup_steps`);
  /// default 100.
  public var betaWarmupSteps: Int
  /// A bottleneck dimension is "active" when its mean KL exceeds this, in nats
  /// (`iak.active_unit_threshold`); default 0.01.
  public var activeUnitThreshold: Float

  /// Creates a configuration; see each property for its default.
  public init(
    insertAt: InsertionPoint = .hidden(1), bottleneck: Int = 8, encoderHidden: Int = 0,
    beta: Float = 0.001, betaWarmupSteps: Int = 100, activeUnitThreshold: Float = 0.01
  ) {
    self.insertAt = insertAt
    self.bottleneck = bottleneck
    self.encoderHidden = encoderHidden
    self.beta = beta
    self.betaWarmupSteps = betaWarmupSteps
    self.activeUnitThreshold = activeUnitThreshold
  }

  /// Checks the settings against the backbone they will be inserted into.
  ///
  /// - Throws: `LearnerError.invalidConfiguration` naming the offending setting.
  public func validate(for backbone: BackboneConfig) throws(LearnerError) {
    if insertAt.level > backbone.hiddenSizes.count {
      let layers = backbone.hiddenSizes.count
      throw .invalidConfiguration(
        "iak.insert_at = \(insertAt): the backbone has \(layers) hidden layers; use "
          + (layers == 0 ? "embedding" : "embedding or hidden1..hidden\(layers)"))
    }
    if bottleneck < 1 {
      throw .invalidConfiguration("iak.bottleneck = \(bottleneck): must be >= 1")
    }
    if encoderHidden < 0 {
      throw .invalidConfiguration("iak.encoder_hidden = \(encoderHidden): must be >= 0")
    }
    if !(beta >= 0) { throw .invalidConfiguration("iak.beta = \(beta): must be >= 0") }
    if betaWarmupSteps < 0 {
      throw .invalidConfiguration("iak.beta_warmup_steps = \(betaWarmupSteps): must be >= 0")
    }
  }

  /// The KL weight at optimiser step `step` (0-based): a linear ramp over `betaWarmupSteps`.
  public func beta(atStep step: Int) -> Float {
    if betaWarmupSteps <= 0 { return beta }
    return beta * Float(min(step + 1, betaWarmupSteps)) / Float(betaWarmupSteps)
  }
}

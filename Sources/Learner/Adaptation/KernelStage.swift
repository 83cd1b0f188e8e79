/// One IAK kernel per domain on the frozen backbone (`train.mode = kernel`, the service's
/// purpose): scores with z = mu, measures the information proxies, then takes Adam steps.
final class KernelStage: AdaptationStage {
  private let optimizer: AdamOptimizer
  private let clip: Float

  /// A stage whose steps use `optimizer` and clip gradients at `clip`.
  init(optimizer: AdamOptimizer, clip: Float) {
    self.optimizer = optimizer
    self.clip = clip
  }

  var mode: AdaptationMode { .kernel }

  func servingLogit(
    of example: () -> Example, state: inout DomainState, engine: KernelEngine
  ) -> Float {
    engine.score(with: &state.kernel)
    return engine.kernelLogits[0]
  }

  func servingLogitWithoutState(of example: () -> Example, engine: KernelEngine) -> Float {
    engine.backboneLogits[0]
  }

  func train(
    on batch: [Example], state: inout DomainState, engine: KernelEngine, rate: Float, steps: Int,
    delayedFraction: Float?
  ) -> Float {
    engine.score(with: &state.kernel)
    state.proxies.update(with: engine.measure())
    if let delayedFraction { engine.weighLoss(of: batch, delayedFraction: delayedFraction) }
    var loss: Float = 0
    for _ in 0..<steps {
      loss += engine.trainStep(&state.kernel, rate: rate, optimizer: optimizer, clip: clip)
    }
    return loss
  }
}

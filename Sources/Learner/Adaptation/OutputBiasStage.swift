import Checkpoint

/// One trainable logit bias per domain on the frozen backbone (`train.mode = output_bias`), for
/// comparisons: the simplest adaptation there is.
final class OutputBiasStage: AdaptationStage {
  private let optimizer: AdamOptimizer

  /// A stage whose steps use `optimizer`.
  init(optimizer: AdamOptimizer) { self.optimizer = optimizer }

  var mode: AdaptationMode { .outputBias }

  func servingLogit(
    of example: () -> Example, state: inout DomainState, engine: KernelEngine
  ) -> Float {
    engine.backboneLogits[0] + state.bias.value
  }

  func servingLogitWithoutState(of example: () -> Example, engine: KernelEngine) -> Float {
    engine.backboneLogits[0]
  }

  /// Adds the bias to the backbone's logits, then steps it; measures no loss (returns 0).
  func train(
    on batch: [Example], state: inout DomainState, engine: KernelEngine, rate: Float, steps: Int,
    delayedFraction: Float?
  ) -> Float {
    let rows = batch.count
    let bias = state.bias.value
    for row in 0..<rows { engine.kernelLogits[row] = engine.backboneLogits[row] + bias }
    for _ in 0..<steps {
      state.bias.step(
        backboneLogits: engine.backboneLogits, labels: engine.workspace.labels, rows: rows,
        rate: rate, optimizer: optimizer)
    }
    return 0
  }

  /// The bias with its Adam moments (float32 [3]) and its step count (int64 [1]).
  func stateTensors(of state: DomainState, prefix: String) -> [String: Tensor] {
    [
      prefix + Trainer.StateTensor.outputBias: Tensor(
        floats: [state.bias.value, state.bias.firstMoment, state.bias.secondMoment], shape: [3]),
      prefix + Trainer.StateTensor.outputBiasStep: Tensor(
        int64s: [Int64(state.bias.stepCount)], shape: [1]),
    ]
  }

  func restoreState(_ state: inout DomainState, from reader: TrainerStateReader)
    throws(LearnerError)
  {
    let bias = try reader.floats(Trainer.StateTensor.outputBias, count: 3)
    let step = try reader.int64s(Trainer.StateTensor.outputBiasStep, count: 1)[0]
    guard step >= 0 else {
      throw reader.error(Trainer.StateTensor.outputBiasStep, "holds a negative step \(step)")
    }
    state.bias.value = bias[0]
    state.bias.firstMoment = bias[1]
    state.bias.secondMoment = bias[2]
    state.bias.stepCount = Int(step)
  }
}

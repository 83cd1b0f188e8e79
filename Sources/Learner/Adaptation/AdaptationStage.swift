import Checkpoint

/// One way of adapting the frozen backbone per domain (`train.mode`), behind one interface in the
/// shape of Vowpal Wabbit's reductions: the trainer runs the backbone, keeps the batches, the
/// evaluation and event time; the stage scores with what it has learned, trains on a closed batch
/// and names the state it adds to a snapshot. One conforming type per `AdaptationMode`.
///
/// Not thread-safe: it belongs to one trainer.
protocol AdaptationStage: AnyObject {
  /// The mode this stage implements.
  var mode: AdaptationMode { get }

  /// The adapted logit of the example `example()` makes, prepared alone in `engine` (its
  /// backbone logit is `engine.backboneLogits[0]`), with its domain's `state` as it now stands.
  /// Changes nothing a later step reads (`state` is inout so that it is not copied). A stage
  /// that needs only what `engine` holds does not make the example.
  func servingLogit(of example: () -> Example, state: inout DomainState, engine: KernelEngine)
    -> Float

  /// The same before the domain's first example, when it has no state yet.
  func servingLogitWithoutState(of example: () -> Example, engine: KernelEngine) -> Float

  /// Scores `batch`, prepared in `engine`, into `engine.kernelLogits` as the domain stands before
  /// learning from it, then takes `steps` optimiser steps on it at `rate`; returns the sum of the
  /// steps' training losses (0 where the stage does not measure one). With `delayedFraction`
  /// (a delayed-feedback mode; only `.kernel` supports one) each `.train` copy's loss is
  /// importance weighted (`KernelEngine.weighLoss`).
  func train(
    on batch: [Example], state: inout DomainState, engine: KernelEngine, rate: Float, steps: Int,
    delayedFraction: Float?
  ) -> Float

  /// The tensors this stage adds to a domain's snapshot, named under `prefix`.
  func stateTensors(of state: DomainState, prefix: String) -> [String: Tensor]

  /// Reads back into `state` what `stateTensors(of:prefix:)` wrote, through `reader`.
  ///
  /// - Throws: `LearnerError.invalidModel` naming a tensor that is missing or malformed.
  func restoreState(_ state: inout DomainState, from reader: TrainerStateReader)
    throws(LearnerError)
}

extension AdaptationStage {
  func stateTensors(of state: DomainState, prefix: String) -> [String: Tensor] { [:] }

  func restoreState(_ state: inout DomainState, from reader: TrainerStateReader)
    throws(LearnerError)
  {}
}

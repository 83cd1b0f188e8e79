/// One online copy of the whole backbone, fine-tuned on every domain's batches, with no kernels
/// (`train.mode = full_fine_tuning`, an experiment's baseline). Its tuned copy is not part of a
/// trainer snapshot.
final class FullFineTuningStage: AdaptationStage {
  /// The fine-tuned copy of the backbone.
  private(set) var tuned: Backbone?
  private let trainer: BackboneTrainer
  private let clip: Float

  /// A stage that tunes a copy of `backbone` on batches of up to `capacity` examples with
  /// `optimizer`, clipping gradients at `clip`.
  init(backbone: Backbone, capacity: Int, optimizer: AdamOptimizer, clip: Float) {
    tuned = backbone
    trainer = BackboneTrainer(
      backbone: backbone, capacity: capacity, optimizer: optimizer, embeddingL2: 0)
    self.clip = clip
  }

  var mode: AdaptationMode { .fullFineTuning }

  func servingLogit(
    of example: () -> Example, state: inout DomainState, engine: KernelEngine
  ) -> Float {
    servingLogitWithoutState(of: example, engine: engine)
  }

  /// The shared tuned backbone's logit: this mode keeps no per-domain model. It runs with
  /// `cblas_sgemm`, not row by row: the tuned backbone is scored only here, on the training
  /// thread, never from an input prepared elsewhere.
  func servingLogitWithoutState(of example: () -> Example, engine: KernelEngine) -> Float {
    guard let tuned else { return engine.backboneLogits[0] }
    let workspace = engine.workspace
    tuned.embed(CollectionOfOne(example()), into: workspace)
    tuned.forward(rows: 1, fromLevel: 0, input: workspace.activations[0], workspace: workspace)
    return workspace.logits[0]
  }

  func train(
    on batch: [Example], state: inout DomainState, engine: KernelEngine, rate: Float, steps: Int,
    delayedFraction: Float?
  ) -> Float {
    guard var tuned else { return 0 }
    let scored = tuned.embed(batch, into: trainer.workspace)
    tuned.forward(
      rows: scored, fromLevel: 0, input: trainer.workspace.activations[0],
      workspace: trainer.workspace)
    engine.kernelLogits.update(from: trainer.workspace.logits, count: scored)
    self.tuned = nil  // keep `tuned` uniquely referenced while it trains
    var loss: Float = 0
    for _ in 0..<steps {
      loss += trainer.trainStep(&tuned, on: batch, rate: rate, clip: clip)
    }
    self.tuned = tuned
    return loss
  }
}

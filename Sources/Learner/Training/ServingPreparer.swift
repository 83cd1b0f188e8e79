import Base

/// Computes the frozen backbone's part of impressions' serving scores (`ServingInput`) on a
/// thread other than the trainer's, with an engine of its own over the same backbone; the
/// trainer then only runs the kernel (`Trainer.servingScore(for:input:)`). Made by
/// `Trainer.makeServingPreparer()`; one thread at a time.
public final class ServingPreparer: @unchecked Sendable {
  private let engine: KernelEngine

  init(engine: KernelEngine) {
    self.engine = engine
  }

  /// The backbone's logit of `example` and its representation at the insertion point.
  public func input(for example: Example) -> ServingInput {
    engine.prepare(CollectionOfOne(example))
    return engine.servingInput
  }
}

import Base

/// Computes the frozen backbone's part of impressions' serving scores (`ServingInput`) on a
/// thread other than the trainer's, with an engine of its own over the same backbone; the
/// trainer then only runs the kernel (`Trainer.servingScore(for:input:)`). Made by
/// `Trainer.makeServingPreparer()`; one thread at a time.
public final class ServingPreparer: @unchecked Sendable {
  /// Rows one pass of the frozen layers takes (`inputs(for:)` runs longer lists in passes).
  public static let rowsPerPass = 256

  private let engine: KernelEngine

  init(engine: KernelEngine) {
    precondition(engine.rowByRow, "serving inputs come from a serving engine")
    self.engine = engine
  }

  /// The backbone's logit of each of `examples` and its representation at the insertion point,
  /// in order, with the frozen layers run over up to `rowsPerPass` rows at a time: one product
  /// per layer instead of one per row. Each row's input is the bits of that row prepared alone:
  /// a serving engine's products sum each row's terms in the same order whatever the rows
  /// beside it (`BLAS.multiplyRowByRow`; `ServingPreparerTests`).
  public func inputs(for examples: [Example]) -> [ServingInput] {
    var inputs: [ServingInput] = []
    inputs.reserveCapacity(examples.count)
    var start = 0
    while start < examples.count {
      let end = min(start + engine.capacity, examples.count)
      engine.prepare(examples[start..<end])
      for row in 0..<(end - start) { inputs.append(engine.servingInput(row: row)) }
      start = end
    }
    return inputs
  }
}

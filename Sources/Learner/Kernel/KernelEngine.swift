import Base
import Foundation

/// The passes of kernel training and scoring over one batch, on buffers allocated once.
///
/// A batch is `prepare`d once: the frozen layers up to the insertion point run a single time,
/// and every later pass (backbone score, kernel score, each training step) continues from the
/// stored `h`. No pass allocates.
final class KernelEngine {
  /// The frozen backbone.
  let backbone: Backbone
  /// The kernel shape.
  let config: KernelConfig
  /// The kernel layout at the insertion point.
  let layout: KernelLayout
  /// Backbone buffers.
  let workspace: BackboneWorkspace
  /// Kernel buffers.
  let kernelWorkspace: KernelWorkspace
  /// `capacity` logits of the backbone alone for the prepared batch.
  let backboneLogits: UnsafeMutablePointer<Float>
  /// `capacity` logits with the kernel (z = mu) for the prepared batch.
  let kernelLogits: UnsafeMutablePointer<Float>
  /// Rows of the prepared batch.
  private(set) var rows = 0
  /// `capacity` importance weights of the prepared batch's rows (`weighLoss`).
  let lossWeights: UnsafeMutablePointer<Float>
  /// Whether `score(with:)` and the backbone's logits of `prepare` run the layers above the
  /// insertion point (and the kernel) on each row on its own (`BLAS.multiplyRowByRow`), so that
  /// a row's scores are the same bits whatever else was prepared with it: the serving engines'
  /// way (`serving(backbone:config:capacity:)`). The layers below the insertion point run that
  /// way on every engine (`prepare`).
  let rowByRow: Bool
  /// For each row of the batch being prepared, its slot in the frozen rows, or -1.
  private let foundSlots: UnsafeMutablePointer<Int>
  /// The rows of the batch being prepared that were not found, in order.
  private let computedRowIndices: UnsafeMutablePointer<Int>
  /// Rows `prepare` copied from frozen rows instead of computing them.
  private(set) var keptRows = 0
  /// Rows `prepare` computed.
  private(set) var computedRows = 0
  /// Whether the training steps on the prepared batch weigh each row's loss by `lossWeights`
  /// (a delayed-feedback mode); `prepare` clears it.
  private(set) var isLossWeighted = false

  /// An engine for serving scores: row by row (`rowByRow`), so that an impression's input
  /// prepared among others on a decoding thread (`ServingPreparer`) and one prepared alone where
  /// it is scored (`Trainer.servingScore(for:input:)`) are the same bits. Both make their
  /// engines here.
  static func serving(backbone: Backbone, config: KernelConfig, capacity: Int) -> KernelEngine {
    KernelEngine(backbone: backbone, config: config, capacity: capacity, rowByRow: true)
  }

  /// Creates the engine for batches of up to `capacity` rows.
  init(backbone: Backbone, config: KernelConfig, capacity: Int, rowByRow: Bool = false) {
    self.backbone = backbone
    self.rowByRow = rowByRow
    self.config = config
    self.layout = KernelLayout(
      width: backbone.config.width(atLevel: config.insertAt.level),
      encoderHidden: config.encoderHidden, bottleneck: config.bottleneck)
    self.workspace = BackboneWorkspace(config: backbone.config, capacity: capacity)
    self.kernelWorkspace = KernelWorkspace(layout: layout, capacity: capacity)
    self.backboneLogits = .allocate(capacity: max(1, capacity))
    self.backboneLogits.initialize(repeating: 0, count: max(1, capacity))
    self.kernelLogits = .allocate(capacity: max(1, capacity))
    self.kernelLogits.initialize(repeating: 0, count: max(1, capacity))
    self.lossWeights = .allocate(capacity: max(1, capacity))
    self.lossWeights.initialize(repeating: 1, count: max(1, capacity))
    self.foundSlots = .allocate(capacity: max(1, capacity))
    self.foundSlots.initialize(repeating: -1, count: max(1, capacity))
    self.computedRowIndices = .allocate(capacity: max(1, capacity))
    self.computedRowIndices.initialize(repeating: 0, count: max(1, capacity))
  }

  deinit {
    backboneLogits.deallocate()
    kernelLogits.deallocate()
    lossWeights.deallocate()
    foundSlots.deallocate()
    computedRowIndices.deallocate()
  }

  /// Largest batch.
  var capacity: Int { workspace.capacity }

  /// The level of the insertion point.
  var level: Int { config.insertAt.level }

  /// The representation `h` at the insertion point for the prepared batch.
  var representation: UnsafeMutablePointer<Float> { workspace.activations[level] }

  /// Embeds `examples` (at most `capacity`) and runs the frozen layers up to the insertion
  /// point, then scores them with the backbone alone into `backboneLogits`.
  ///
  /// The layers below the insertion point run row by row (`BLAS.multiplyRowByRow`) on every
  /// engine: a row's representation is then the bits a serving engine computes for that example
  /// alone, so a row found in `frozen` (through the example's `frozenRow` ticket) is
  /// copied instead of computed, and no bit of any kernel or score depends on which rows were
  /// found. The layers above run over the whole batch as the engine's scores do (`rowByRow`),
  /// so a kernel that changes nothing scores the backbone's bits. Returns how many rows were
  /// found (kept) and how many computed; `keptRows` and `computedRows` add them up.
  @discardableResult
  func prepare<Examples: RandomAccessCollection<Example>>(
    _ examples: Examples, reusing frozen: FrozenRows? = nil
  ) -> (kept: Int, computed: Int) {
    isLossWeighted = false
    let count = min(examples.count, capacity)
    var found = 0
    if let frozen {
      precondition(frozen.width == layout.width, "frozen rows of another width")
      for (row, example) in zip(0..<count, examples) {
        let slot = frozen.slot(of: example.frozenRow) ?? -1
        foundSlots[row] = slot
        if slot >= 0 { found += 1 }
      }
    }
    if let frozen, found > 0 {
      rows = count
      let width = layout.width
      if found < count {
        // The rows not found are computed together in the first rows, then moved to their
        // places from the last down (a row only moves to a place at or after its own, and
        // every row above it has already moved).
        var computed = 0
        for row in 0..<count where foundSlots[row] < 0 {
          computedRowIndices[computed] = row
          computed += 1
        }
        let first = examples.startIndex
        let missing = UnsafeBufferPointer(start: computedRowIndices, count: computed).lazy.map {
          examples[examples.index(first, offsetBy: $0)]
        }
        backbone.embed(missing, into: workspace)
        runLayersBelowKernel(rows: computed)
        for index in stride(from: computed - 1, through: 0, by: -1) {
          let row = computedRowIndices[index]
          if row != index {
            (representation + row * width).update(
              from: representation + index * width, count: width)
          }
        }
        computedRows += computed
      }
      for (row, example) in zip(0..<count, examples) {
        workspace.labels[row] = Backbone.label(of: example)
        let slot = foundSlots[row]
        if slot >= 0 { frozen.copy(slot: slot, into: representation + row * width) }
      }
      keptRows += found
    } else {
      rows = backbone.embed(examples, into: workspace)
      runLayersBelowKernel(rows: rows)
      computedRows += rows
    }
    backbone.forward(
      rows: rows, fromLevel: level, input: representation, workspace: workspace,
      rowByRow: rowByRow)
    backboneLogits.update(from: workspace.logits, count: rows)
    return (found, rows - found)
  }

  /// The layers below the insertion point on the first `rows` embedded rows, row by row, into
  /// `representation`.
  private func runLayersBelowKernel(rows: Int) {
    backbone.forward(
      rows: rows, fromLevel: 0, input: workspace.activations[0], workspace: workspace,
      through: level, rowByRow: true)
  }

  /// Prepares one row from `input` (its representation and backbone logit, as `prepare` of
  /// that row computed them, on another serving engine of the same backbone) instead of
  /// embedding it and running the frozen layers again.
  func load(_ input: ServingInput) {
    precondition(rowByRow, "a serving input loads only into a serving engine")
    precondition(input.representation.count == layout.width, "representation of another width")
    input.representation.withUnsafeBufferPointer {
      representation.update(from: $0.baseAddress!, count: layout.width)
    }
    backboneLogits[0] = input.backboneLogit
    rows = 1
    isLossWeighted = false
  }

  /// The representation and backbone logit of prepared row `row` (`load(_:)` takes it).
  func servingInput(row: Int) -> ServingInput {
    precondition(row < rows, "row \(row) of \(rows) prepared")
    return ServingInput(
      backboneLogit: backboneLogits[row],
      representation: Array(
        UnsafeBufferPointer(start: representation + row * layout.width, count: layout.width)))
  }

  /// Weighs the loss of each row of the prepared batch `examples` (after `score`) for the biased
  /// stream of a delayed-feedback mode: a `.train` copy gets
  /// `DelayedFeedback.importanceWeight` from its label, the kernel's prediction in
  /// `kernelLogits` and `delayedFraction`; any other row weighs 1.
  func weighLoss<Examples: Collection<Example>>(
    of examples: Examples, delayedFraction: Float
  ) {
    for (row, example) in zip(0..<rows, examples) {
      lossWeights[row] =
        example.use == .train
        ? DelayedFeedback.importanceWeight(
          label: example.label, prediction: Logistic.sigmoid(kernelLogits[row]),
          delayedFraction: delayedFraction)
        : 1
    }
    isLossWeighted = true
  }

  /// Scores the prepared batch with `kernel` (z = mu) into `kernelLogits`.
  func score(with kernel: inout IAKKernel) {
    kernel.forward(
      input: representation, rows: rows, workspace: kernelWorkspace, sampling: false,
      rowByRow: rowByRow)
    backbone.forward(
      rows: rows, fromLevel: level, input: kernelWorkspace.modified, workspace: workspace,
      rowByRow: rowByRow)
    kernelLogits.update(from: workspace.logits, count: rows)
  }

  /// Computes the gradient of the kernel loss on the prepared batch into
  /// `kernelWorkspace.gradient` (sampling z), without updating the kernel; each row's
  /// cross-entropy is weighted by `lossWeights` after `weighLoss`.
  /// Returns the mean (weighted) cross-entropy and the mean KL (nats).
  func computeGradient(of kernel: inout IAKKernel, beta: Float) -> (
    crossEntropy: Float, kl: Float
  ) {
    kernel.forward(
      input: representation, rows: rows, workspace: kernelWorkspace, sampling: true)
    backbone.forward(
      rows: rows, fromLevel: level, input: kernelWorkspace.modified, workspace: workspace)
    let crossEntropy =
      isLossWeighted
      ? Logistic.weightedMeanLossGradient(
        logits: workspace.logits, labels: workspace.labels, weights: lossWeights, rows: rows,
        into: workspace.logitGradients)
      : Logistic.meanLossGradient(
        logits: workspace.logits, labels: workspace.labels, rows: rows,
        into: workspace.logitGradients)
    backbone.backward(
      rows: rows, toLevel: level, input: kernelWorkspace.modified, workspace: workspace,
      gradient: nil)
    let kl = kernel.backward(
      input: representation, modifiedGradient: workspace.gradients[level], rows: rows,
      beta: beta, workspace: kernelWorkspace)
    return (crossEntropy, kl)
  }

  /// One training step of `kernel` on the prepared batch: sampled forward, backward through
  /// the frozen upper layers, Adam. Returns the loss `CE + beta * KL` before the update.
  @discardableResult
  func trainStep(
    _ kernel: inout IAKKernel, rate: Float, optimizer: AdamOptimizer, clip: Float
  ) -> Float {
    let beta = config.beta(atStep: kernel.stepCount)
    let (crossEntropy, kl) = computeGradient(of: &kernel, beta: beta)
    kernel.applyGradient(kernelWorkspace.gradient, rate: rate, optimizer: optimizer, clip: clip)
    return crossEntropy + beta * kl
  }

  /// Multiply-adds of one training step per row: kernel forward and backward, and the layers
  /// above the insertion point forward and backward (input gradients only).
  var trainingStepMultiplyAdds: Int {
    let m = layout.width
    let hidden = layout.encoderHidden
    let encoder = layout.encoderInputWidth * 2 * layout.bottleneck
    let decoder = layout.bottleneck * m
    let kernelForward = m * hidden + encoder + decoder
    let kernelBackward = 2 * decoder + encoder + (hidden > 0 ? encoder + m * hidden : 0)
    let upper = backbone.forwardMultiplyAdds(fromLevel: level)
    return kernelForward + kernelBackward + 2 * upper
  }
}

/// Scores a batch of examples from many domains in one pass, with domain activation.
///
/// The frozen layers below the insertion point run once over the whole batch; then each domain
/// with a kernel modifies its own rows of `h` with it (z = mu), and the layers above run once
/// over the whole batch. The served score is the kernel's for a domain whose kernel is active,
/// else the backbone's; the backbone-alone score of every example, and the kernel's own score
/// of every example whose domain has a kernel (active or in shadow), come from the same pass. Batches larger than the
/// capacity are scored in chunks. Not thread-safe: one scorer per thread.
public final class Scorer {
  /// One example's scores.
  public struct Score: Sendable, Equatable {
    /// Click probability served: with the domain's kernel when it is active, else the backbone's.
    public var probability: Float
    /// Click probability of the backbone alone.
    public var backboneProbability: Float
    /// Whether a kernel was applied.
    public var usedKernel: Bool
    /// Click probability with the domain's kernel whether or not it is active (its shadow
    /// score), nil when the domain has no kernel.
    public var kernelProbability: Float?
  }

  /// The frozen backbone.
  public let backbone: Backbone
  /// The kernel shape.
  public let kernelConfig: KernelConfig
  private var kernels: [String: IAKKernel]
  private let workspace: BackboneWorkspace
  private let kernelWorkspace: KernelWorkspace
  private let layout: KernelLayout
  private let modified: UnsafeMutablePointer<Float>
  private let backboneLogits: UnsafeMutablePointer<Float>

  /// Creates a scorer for `kernels` (keyed by domain) on `backbone`, for chunks of `capacity`.
  ///
  /// - Throws: `LearnerError.invalidModel` when a kernel does not fit the backbone, or
  ///   `.invalidConfiguration` when `kernelConfig` does not.
  public init(
    backbone: Backbone, kernelConfig: KernelConfig, kernels: [String: IAKKernel],
    capacity: Int = 512
  ) throws(LearnerError) {
    try kernelConfig.validate(for: backbone.config)
    self.backbone = backbone
    self.kernelConfig = kernelConfig
    let layout = KernelLayout(
      width: backbone.config.width(atLevel: kernelConfig.insertAt.level),
      encoderHidden: kernelConfig.encoderHidden, bottleneck: kernelConfig.bottleneck)
    for (domain, kernel) in kernels where kernel.layout != layout {
      throw .invalidModel(
        "kernel of domain '\(domain)' has shape \(kernel.layout) but the backbone and iak.* "
          + "settings need \(layout); load kernels trained with the same settings")
    }
    self.layout = layout
    self.kernels = kernels
    let rows = max(1, capacity)
    workspace = BackboneWorkspace(config: backbone.config, capacity: rows)
    kernelWorkspace = KernelWorkspace(layout: layout, capacity: rows)
    modified = .allocate(capacity: rows * layout.width)
    modified.initialize(repeating: 0, count: rows * layout.width)
    backboneLogits = .allocate(capacity: rows)
    backboneLogits.initialize(repeating: 0, count: rows)
  }

  deinit {
    modified.deallocate()
    backboneLogits.deallocate()
  }

  /// Replaces (or adds) the kernel of its domain, e.g. when a newer version is published.
  ///
  /// - Throws: `LearnerError.invalidModel` when its shape does not fit.
  public func update(_ kernel: IAKKernel) throws(LearnerError) {
    if kernel.layout != layout {
      throw .invalidModel(
        "kernel of domain '\(kernel.domain)' has shape \(kernel.layout), expected \(layout)")
    }
    kernels[kernel.domain] = kernel
  }

  /// Scores `examples`, returning one score per example in input order.
  public func score(_ examples: [Example]) -> [Score] {
    var result = [Score](
      repeating: Score(
        probability: 0, backboneProbability: 0, usedKernel: false, kernelProbability: nil),
      count: examples.count)
    // Group by domain (stable), then score in chunks that keep groups contiguous.
    let order = examples.indices.sorted {
      (examples[$0].domain, $0) < (examples[$1].domain, $1)
    }
    var start = 0
    while start < order.count {
      let end = min(start + workspace.capacity, order.count)
      scoreChunk(order[start..<end], of: examples, into: &result)
      start = end
    }
    return result
  }

  private func scoreChunk(
    _ indices: ArraySlice<Int>, of examples: [Example], into result: inout [Score]
  ) {
    let level = kernelConfig.insertAt.level
    let m = layout.width
    let rows = backbone.embed(indices.lazy.map { examples[$0] }, into: workspace)
    backbone.forward(
      rows: rows, fromLevel: 0, input: workspace.activations[0], workspace: workspace,
      through: level)
    let h = workspace.activations[level]
    backbone.forward(rows: rows, fromLevel: level, input: h, workspace: workspace)
    backboneLogits.update(from: workspace.logits, count: rows)
    modified.update(from: h, count: rows * m)
    var used = [Bool](repeating: false, count: rows)
    var hasKernel = [Bool](repeating: false, count: rows)
    var groupStart = 0
    let positions = Array(indices)
    while groupStart < rows {
      let domain = examples[positions[groupStart]].domain
      var groupEnd = groupStart + 1
      while groupEnd < rows && examples[positions[groupEnd]].domain == domain { groupEnd += 1 }
      if var kernel = kernels[domain] {
        let count = groupEnd - groupStart
        kernel.forward(
          input: h + groupStart * m, rows: count, workspace: kernelWorkspace, sampling: false)
        (modified + groupStart * m).update(from: kernelWorkspace.modified, count: count * m)
        for row in groupStart..<groupEnd {
          hasKernel[row] = true
          used[row] = kernel.isActive
        }
      }
      groupStart = groupEnd
    }
    backbone.forward(rows: rows, fromLevel: level, input: modified, workspace: workspace)
    for row in 0..<rows {
      let kernelProbability = hasKernel[row] ? Logistic.sigmoid(workspace.logits[row]) : nil
      result[positions[row]] = Score(
        probability: used[row] ? kernelProbability! : Logistic.sigmoid(backboneLogits[row]),
        backboneProbability: Logistic.sigmoid(backboneLogits[row]), usedKernel: used[row],
        kernelProbability: kernelProbability)
    }
  }
}

/// Trains every parameter of a backbone with Adam: dense layers densely, embedding tables
/// lazily (only the rows a batch touches are updated, with the global step's bias correction).
///
/// Used by pretraining and by the online full fine-tuning experiment. All buffers are made once.
final class BackboneTrainer {
  /// Forward and backward buffers.
  let workspace: BackboneWorkspace
  /// Adam constants.
  let optimizer: AdamOptimizer
  /// L2 penalty applied to touched embedding rows.
  let embeddingL2: Float
  /// Gradient of the dense parameters.
  private let denseGradient: UnsafeMutablePointer<Float>
  private var denseFirst: [Float]
  private var denseSecond: [Float]
  /// Per field: gradient, moments, last step each row was touched, rows touched this step.
  private let embeddingGradient: [UnsafeMutablePointer<Float>]
  private var embeddingFirst: [[Float]]
  private var embeddingSecond: [[Float]]
  private let touchedStamp: [UnsafeMutablePointer<Int>]
  private let touchedRows: [UnsafeMutablePointer<Int>]
  private var touchedCount: [Int]
  /// Adam steps taken.
  private(set) var step = 0

  /// Creates the trainer of backbones shaped like `backbone`, for batches of up to `capacity`.
  init(backbone: Backbone, capacity: Int, optimizer: AdamOptimizer, embeddingL2: Float) {
    let config = backbone.config
    workspace = BackboneWorkspace(config: config, capacity: capacity)
    self.optimizer = optimizer
    self.embeddingL2 = embeddingL2
    denseGradient = .allocate(capacity: max(1, backbone.dense.count))
    denseGradient.initialize(repeating: 0, count: max(1, backbone.dense.count))
    denseFirst = [Float](repeating: 0, count: backbone.dense.count)
    denseSecond = denseFirst
    let tableSize = config.buckets * config.embeddingDim
    embeddingGradient = config.fields.map { _ in
      let buffer = UnsafeMutablePointer<Float>.allocate(capacity: tableSize)
      buffer.initialize(repeating: 0, count: tableSize)
      return buffer
    }
    embeddingFirst = config.fields.map { _ in [Float](repeating: 0, count: tableSize) }
    embeddingSecond = embeddingFirst
    touchedStamp = config.fields.map { _ in
      let buffer = UnsafeMutablePointer<Int>.allocate(capacity: config.buckets)
      buffer.initialize(repeating: -1, count: config.buckets)
      return buffer
    }
    touchedRows = config.fields.map { _ in
      let buffer = UnsafeMutablePointer<Int>.allocate(capacity: max(1, capacity))
      buffer.initialize(repeating: 0, count: max(1, capacity))
      return buffer
    }
    touchedCount = [Int](repeating: 0, count: config.fields.count)
  }

  deinit {
    denseGradient.deallocate()
    for buffer in embeddingGradient { buffer.deallocate() }
    for buffer in touchedStamp { buffer.deallocate() }
    for buffer in touchedRows { buffer.deallocate() }
  }

  /// Scores `examples` with `backbone` (into `workspace.logits`) and then takes one Adam step on
  /// them at `rate`; returns the mean cross-entropy before the step.
  @discardableResult
  func trainStep<Examples: Collection<Example>>(
    _ backbone: inout Backbone, on examples: Examples, rate: Float, clip: Float = 0
  ) -> Float {
    let rows = backbone.embed(examples, into: workspace)
    backbone.forward(
      rows: rows, fromLevel: 0, input: workspace.activations[0], workspace: workspace)
    let loss = Logistic.meanLossGradient(
      logits: workspace.logits, labels: workspace.labels, rows: rows,
      into: workspace.logitGradients)
    backbone.backward(
      rows: rows, toLevel: 0, input: workspace.activations[0], workspace: workspace,
      gradient: denseGradient)
    step += 1
    let corrected = optimizer.correctedRate(rate, step: step)
    let denseCount = backbone.dense.count
    let scale = AdamOptimizer.clippingScale(denseGradient, count: denseCount, clip: clip)
    backbone.dense.withUnsafeMutableBufferPointer { p in
      denseFirst.withUnsafeMutableBufferPointer { m in
        denseSecond.withUnsafeMutableBufferPointer { v in
          optimizer.update(
            parameters: p.baseAddress!, gradient: denseGradient, firstMoment: m.baseAddress!,
            secondMoment: v.baseAddress!, count: denseCount, correctedRate: corrected,
            gradientScale: scale)
        }
      }
    }
    updateEmbeddings(&backbone, rows: rows, correctedRate: corrected)
    return loss
  }

  /// Scatters the gradient of `x0` into the touched embedding rows and updates them.
  private func updateEmbeddings(_ backbone: inout Backbone, rows: Int, correctedRate: Float) {
    let config = backbone.config
    let dim = config.embeddingDim
    let width = config.inputWidth
    let fieldCount = config.fields.count
    let inputGradient = workspace.gradients[0]
    for field in 0..<fieldCount {
      let gradient = embeddingGradient[field]
      let stamp = touchedStamp[field]
      let touched = touchedRows[field]
      var touchedTotal = 0
      for row in 0..<rows {
        let bucket = Int(workspace.buckets[row * fieldCount + field])
        let target = gradient + bucket * dim
        if stamp[bucket] != step {
          stamp[bucket] = step
          touched[touchedTotal] = bucket
          touchedTotal += 1
          target.update(repeating: 0, count: dim)
        }
        let source = inputGradient + row * width + field * dim
        for column in 0..<dim { target[column] += source[column] }
      }
      touchedCount[field] = touchedTotal
      let l2 = embeddingL2
      backbone.embeddings[field].withUnsafeMutableBufferPointer { table in
        embeddingFirst[field].withUnsafeMutableBufferPointer { m in
          embeddingSecond[field].withUnsafeMutableBufferPointer { v in
            for index in 0..<touchedTotal {
              let offset = touched[index] * dim
              if l2 > 0 {
                for column in 0..<dim {
                  gradient[offset + column] += l2 * table[offset + column]
                }
              }
              optimizer.update(
                parameters: table.baseAddress! + offset, gradient: gradient + offset,
                firstMoment: m.baseAddress! + offset, secondMoment: v.baseAddress! + offset,
                count: dim, correctedRate: correctedRate)
            }
          }
        }
      }
    }
  }
}

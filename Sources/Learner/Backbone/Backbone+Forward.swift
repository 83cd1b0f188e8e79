import Foundation

extension Backbone {
  /// Hashes `examples` into embedding rows and writes `x0` into `workspace.activations[0]`;
  /// the labels go to `workspace.labels`. Returns the number of rows written (at most the
  /// workspace capacity; callers never pass more).
  @discardableResult
  func embed<Examples: Collection<Example>>(
    _ examples: Examples, into workspace: BackboneWorkspace
  ) -> Int {
    let rows = min(examples.count, workspace.capacity)
    let dim = config.embeddingDim
    let width = config.inputWidth
    let fieldCount = config.fields.count
    let buckets = config.buckets
    let x0 = workspace.activations[0]
    var row = 0
    // The tables and the fields' hash states borrowed once, not retained per field and row.
    embeddings.withUnsafeBufferPointer { tables in
      fieldStates.withUnsafeBufferPointer { fieldStates in
        for example in examples {
          if row == rows { break }
          let line = x0 + row * width
          let values = example.categorical
          for field in 0..<fieldCount {
            let hash = FeatureHasher.hash(
              value: field < values.count ? values[field] : "", after: fieldStates[field])
            let bucket = FeatureHasher.bucket(of: hash, buckets: buckets)
            workspace.buckets[row * fieldCount + field] = Int32(bucket)
            tables[field].withUnsafeBufferPointer { table in
              (line + field * dim).update(from: table.baseAddress! + bucket * dim, count: dim)
            }
          }
          embedRest(of: example, line: line, row: row, workspace: workspace)
          row += 1
        }
      }
    }
    return rows
  }

  /// The numeric part of `example`'s embedding row `line`, and its label.
  private func embedRest(
    of example: Example, line: UnsafeMutablePointer<Float>, row: Int,
    workspace: BackboneWorkspace
  ) {
    let numericBase = config.fields.count * config.embeddingDim
    for numeric in 0..<config.numericFields.count {
      let raw = numeric < example.numeric.count ? example.numeric[numeric] : Float.nan
      let scaled = (raw - numericMean[numeric]) * numericScale[numeric]
      line[numericBase + numeric] = scaled.isFinite ? scaled : 0
    }
    workspace.labels[row] = Self.label(of: example)
  }

  /// The 0/1 label of `example` as training reads it.
  static func label(of example: Example) -> Float { example.label >= 0.5 ? 1 : 0 }

  /// Runs layers `level + 1` through `lastLayer` (1-based; `L + 1` is the output layer) on
  /// `rows` rows, reading layer `level + 1`'s input from `input` and writing each layer's output
  /// into `workspace.activations`. With `rowByRow`, each row's products are its own
  /// (`BLAS.multiplyRowByRow`): its bits do not depend on the other rows.
  func forward(
    rows: Int, fromLevel level: Int, input: UnsafePointer<Float>, workspace: BackboneWorkspace,
    through lastLayer: Int? = nil, rowByRow: Bool = false
  ) {
    let last = lastLayer ?? layers.count
    if last <= level { return }
    dense.withUnsafeBufferPointer { parameters in
      let base = parameters.baseAddress!
      for index in (level + 1)...last {
        let layer = layers[index - 1]
        let source = index == level + 1 ? input : UnsafePointer(workspace.activations[index - 1])
        let output = workspace.activations[index]
        BLAS.multiply(
          m: rows, n: layer.outputWidth, k: layer.inputWidth, source, base + layer.weightOffset,
          into: output, rowByRow: rowByRow)
        BLAS.addRowVector(
          base + layer.biasOffset, to: output, rows: rows, columns: layer.outputWidth)
        if index < layers.count { BLAS.rectify(output, count: rows * layer.outputWidth) }
      }
    }
  }

  /// Back-propagates `workspace.logitGradients` from the output layer down to `level`, leaving
  /// the gradient with respect to layer `level + 1`'s input in `workspace.gradients[level]`.
  ///
  /// `input` must be what the forward pass read as layer `level + 1`'s input. When `gradient` is
  /// given (laid out like `dense`), the parameter gradients of the layers above `level` are
  /// written into it (overwriting).
  func backward(
    rows: Int, toLevel level: Int, input: UnsafePointer<Float>, workspace: BackboneWorkspace,
    gradient: UnsafeMutablePointer<Float>?
  ) {
    dense.withUnsafeBufferPointer { parameters in
      let base = parameters.baseAddress!
      for index in stride(from: layers.count, through: level + 1, by: -1) {
        let layer = layers[index - 1]
        let source = index == level + 1 ? input : UnsafePointer(workspace.activations[index - 1])
        let outputGradient = UnsafePointer(workspace.gradients[index])
        if let gradient {
          BLAS.multiply(
            m: layer.inputWidth, n: layer.outputWidth, k: rows, source, transposeA: true,
            outputGradient, into: gradient + layer.weightOffset)
          BLAS.sumColumns(
            outputGradient, rows: rows, columns: layer.outputWidth,
            into: gradient + layer.biasOffset)
        }
        let inputGradient = workspace.gradients[index - 1]
        BLAS.multiply(
          m: rows, n: layer.inputWidth, k: layer.outputWidth, outputGradient,
          base + layer.weightOffset, transposeB: true, into: inputGradient)
        if index - 1 > level {
          BLAS.maskByActivity(
            inputGradient, activation: workspace.activations[index - 1],
            count: rows * layer.inputWidth)
        }
      }
    }
  }

  /// Multiply-adds of a forward pass through layers above `level` for one row.
  func forwardMultiplyAdds(fromLevel level: Int) -> Int {
    layers[level...].reduce(0) { $0 + $1.inputWidth * $1.outputWidth }
  }

  /// The backbone's click probabilities for `examples`, in order.
  ///
  /// A convenience for tools and tests: it allocates a workspace per call. The trainer and the
  /// `Scorer` reuse theirs.
  public func probabilities(for examples: [Example]) -> [Float] {
    let chunk = 256
    let workspace = BackboneWorkspace(config: config, capacity: chunk)
    var result: [Float] = []
    result.reserveCapacity(examples.count)
    var start = 0
    while start < examples.count {
      let end = min(start + chunk, examples.count)
      let rows = embed(examples[start..<end], into: workspace)
      forward(rows: rows, fromLevel: 0, input: workspace.activations[0], workspace: workspace)
      for row in 0..<rows { result.append(Logistic.sigmoid(workspace.logits[row])) }
      start = end
    }
    return result
  }
}

/// The logistic function and the binary cross-entropy, computed stably from logits.
enum Logistic {
  /// `1 / (1 + exp(-logit))`.
  @inline(__always)
  static func sigmoid(_ logit: Float) -> Float {
    if logit >= 0 { return 1 / (1 + exp(-logit)) }
    let positive = exp(logit)
    return positive / (1 + positive)
  }

  /// `-[y log p + (1 - y) log(1 - p)]` with `p = sigmoid(logit)`, in nats.
  @inline(__always)
  static func crossEntropy(logit: Float, label: Float) -> Float {
    max(logit, 0) - logit * label + log1p(exp(-abs(logit)))
  }

  /// Writes `(sigmoid(logit) - label) / rows` into `gradients` and returns the mean
  /// cross-entropy of the rows.
  @inline(__always)
  static func meanLossGradient(
    logits: UnsafePointer<Float>, labels: UnsafePointer<Float>, rows: Int,
    into gradients: UnsafeMutablePointer<Float>
  ) -> Float {
    var total: Float = 0
    let scale = 1 / Float(max(1, rows))
    for row in 0..<rows {
      total += crossEntropy(logit: logits[row], label: labels[row])
      gradients[row] = (sigmoid(logits[row]) - labels[row]) * scale
    }
    return total * scale
  }

  /// Writes `weights[row] * (sigmoid(logit) - label) / rows` into `gradients` and returns the
  /// mean weighted cross-entropy of the rows: the gradient of
  /// `(1 / rows) * sum(weights[row] * crossEntropy(row))` with the weights held constant.
  @inline(__always)
  static func weightedMeanLossGradient(
    logits: UnsafePointer<Float>, labels: UnsafePointer<Float>, weights: UnsafePointer<Float>,
    rows: Int, into gradients: UnsafeMutablePointer<Float>
  ) -> Float {
    var total: Float = 0
    let scale = 1 / Float(max(1, rows))
    for row in 0..<rows {
      total += weights[row] * crossEntropy(logit: logits[row], label: labels[row])
      gradients[row] = weights[row] * (sigmoid(logits[row]) - labels[row]) * scale
    }
    return total * scale
  }
}

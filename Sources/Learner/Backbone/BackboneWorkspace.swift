/// Buffers for passes through a backbone, allocated once for the largest batch and reused.
///
/// `activations[0]` is `x0`, `activations[l]` the output of layer l (the last one holds the
/// logits); `gradients[l]` is the loss gradient with respect to `activations[l]`. Nothing in a
/// forward or backward pass allocates: every pass writes into these buffers.
final class BackboneWorkspace {
  /// Largest number of rows a pass may use.
  let capacity: Int
  /// Width of every level: `x0`, each hidden layer, then the logit (1).
  let widths: [Int]
  /// Per level, `capacity x widths[level]` floats.
  let activations: [UnsafeMutablePointer<Float>]
  /// Per level, `capacity x widths[level]` floats.
  let gradients: [UnsafeMutablePointer<Float>]
  /// `capacity x fields` embedding rows used by the last `embed` call.
  let buckets: UnsafeMutablePointer<Int32>
  /// `capacity` labels of the last batch.
  let labels: UnsafeMutablePointer<Float>
  /// `capacity` scratch values (e.g. logits kept aside).
  let scratch: UnsafeMutablePointer<Float>
  /// Number of categorical fields.
  let fieldCount: Int

  /// Creates the buffers for `config` and batches of up to `capacity` rows.
  init(config: BackboneConfig, capacity: Int) {
    self.capacity = max(1, capacity)
    self.widths = [config.inputWidth] + config.hiddenSizes + [1]
    self.activations = widths.map { width in
      let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, capacity) * width)
      buffer.initialize(repeating: 0, count: max(1, capacity) * width)
      return buffer
    }
    self.gradients = widths.map { width in
      let buffer = UnsafeMutablePointer<Float>.allocate(capacity: max(1, capacity) * width)
      buffer.initialize(repeating: 0, count: max(1, capacity) * width)
      return buffer
    }
    self.fieldCount = config.fields.count
    self.buckets = .allocate(capacity: max(1, capacity * config.fields.count))
    self.buckets.initialize(repeating: 0, count: max(1, capacity * config.fields.count))
    self.labels = .allocate(capacity: max(1, capacity))
    self.labels.initialize(repeating: 0, count: max(1, capacity))
    self.scratch = .allocate(capacity: max(1, capacity))
    self.scratch.initialize(repeating: 0, count: max(1, capacity))
  }

  deinit {
    for buffer in activations { buffer.deallocate() }
    for buffer in gradients { buffer.deallocate() }
    buckets.deallocate()
    labels.deallocate()
    scratch.deallocate()
  }

  /// The logits of the last forward pass (`rows` values).
  var logits: UnsafeMutablePointer<Float> { activations[activations.count - 1] }

  /// The gradient with respect to the logits, filled before a backward pass.
  var logitGradients: UnsafeMutablePointer<Float> { gradients[gradients.count - 1] }
}

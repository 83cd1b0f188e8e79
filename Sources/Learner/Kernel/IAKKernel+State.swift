import Checkpoint

extension IAKKernel {
  /// A copy of this kernel (parameters, moments, counts) serving `domain`, with the noise
  /// generator of the new domain.
  public func copy(for domain: String, seed: UInt64) -> IAKKernel {
    var result = IAKKernel(domain: domain, layout: layout, seed: seed)
    result.parameters = parameters
    result.firstMoment = firstMoment
    result.secondMoment = secondMoment
    result.stepCount = stepCount
    result.examplesSeen = examplesSeen
    result.isActive = isActive
    return result
  }
}

extension IAKKernel {
  /// The names of the tensors that hold a kernel's optimiser and bookkeeping state (the
  /// parameter tensors are named after `KernelLayout` blocks, e.g. "encoder.weight").
  public enum StateTensor {
    /// `int64 [3]`: width m, encoder hidden width H, bottleneck k.
    public static let layout = "layout"
    /// `float32 [P]`: Adam's first moments, in parameter order.
    public static let firstMoment = "adam.first_moment"
    /// `float32 [P]`: Adam's second moments, in parameter order.
    public static let secondMoment = "adam.second_moment"
    /// `int64 [1]`: Adam steps taken.
    public static let step = "adam.step"
    /// `uint64 [1]`: the noise generator's state.
    public static let noise = "noise.state"
    /// `int64 [1]`: examples trained on.
    public static let examplesSeen = "examples_seen"
    /// `uint8 [1]`: 1 when the kernel serves.
    public static let active = "active"
  }

  /// The kernel's weights as named float32 tensors ("encoder.weight" `[in, 2k]`, "encoder.bias",
  /// "decoder.weight" `[k, m]`, "decoder.bias", and "encoder_hidden.*" when present), each name
  /// prefixed by `prefix`. This is what a serving system needs.
  public func weightTensors(prefix: String = "") -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for block in layout.blocks {
      let count = block.shape.reduce(1, *)
      result[prefix + block.name] = Tensor(
        floats: Array(parameters[block.offset..<(block.offset + count)]), shape: block.shape)
    }
    return result
  }

  /// Every tensor needed to continue training bit for bit: the weights plus the `StateTensor`
  /// entries, each name prefixed by `prefix`.
  public func stateTensors(prefix: String = "") -> [String: Tensor] {
    var result = weightTensors(prefix: prefix)
    let count = layout.parameterCount
    result[prefix + StateTensor.layout] = Tensor(
      int64s: [Int64(layout.width), Int64(layout.encoderHidden), Int64(layout.bottleneck)],
      shape: [3])
    result[prefix + StateTensor.firstMoment] = Tensor(floats: firstMoment, shape: [count])
    result[prefix + StateTensor.secondMoment] = Tensor(floats: secondMoment, shape: [count])
    result[prefix + StateTensor.step] = Tensor(int64s: [Int64(stepCount)], shape: [1])
    result[prefix + StateTensor.noise] = Tensor(uint64s: [noise.state], shape: [1])
    result[prefix + StateTensor.examplesSeen] = Tensor(int64s: [Int64(examplesSeen)], shape: [1])
    result[prefix + StateTensor.active] = Tensor(uint8s: [isActive ? 1 : 0], shape: [1])
    return result
  }

  /// Restores the kernel of `domain` from tensors written by `stateTensors(prefix:)`.
  ///
  /// - Throws: `LearnerError.invalidModel` naming the missing or malformed tensor.
  public init(domain: String, stateTensors tensors: [String: Tensor], prefix: String = "")
    throws(LearnerError)
  {
    func tensor(_ name: String) throws(LearnerError) -> Tensor {
      guard let found = tensors[prefix + name] else {
        throw .invalidModel(
          "kernel '\(domain)': tensor '\(prefix + name)' is missing; the snapshot is incomplete")
      }
      return found
    }
    func read<T>(_ name: String, _ body: (Tensor) throws -> [T], count: Int) throws(LearnerError)
      -> [T]
    {
      let found = try tensor(name)
      do {
        let values = try body(found)
        if values.count != count {
          throw LearnerError.invalidModel(
            "kernel '\(domain)': tensor '\(prefix + name)' has \(values.count) values, "
              + "expected \(count)")
        }
        return values
      } catch let error as LearnerError {
        throw error
      } catch {
        throw .invalidModel("kernel '\(domain)': tensor '\(prefix + name)': \(error)")
      }
    }
    let shape = try read(StateTensor.layout, { try $0.int64s() }, count: 3)
    if shape.contains(where: { $0 < 0 || $0 > 1 << 16 }) || shape[0] < 1 || shape[2] < 1 {
      throw .invalidModel(
        "kernel '\(domain)': layout \(shape) is not a valid kernel shape (width, hidden, "
          + "bottleneck in 0...65536, width and bottleneck >= 1)")
    }
    let layout = KernelLayout(
      width: Int(shape[0]), encoderHidden: Int(shape[1]), bottleneck: Int(shape[2]))
    var kernel = IAKKernel(domain: domain, layout: layout, seed: 0)
    for block in layout.blocks {
      let count = block.shape.reduce(1, *)
      let values = try read(block.name, { try $0.floats() }, count: count)
      kernel.parameters.replaceSubrange(block.offset..<(block.offset + count), with: values)
    }
    let count = layout.parameterCount
    kernel.firstMoment = try read(StateTensor.firstMoment, { try $0.floats() }, count: count)
    kernel.secondMoment = try read(StateTensor.secondMoment, { try $0.floats() }, count: count)
    kernel.stepCount = Int(try read(StateTensor.step, { try $0.int64s() }, count: 1)[0])
    kernel.noise = NoiseGenerator(
      state: try read(StateTensor.noise, { try $0.uint64s() }, count: 1)[0])
    kernel.examplesSeen = Int(
      try read(StateTensor.examplesSeen, { try $0.int64s() }, count: 1)[0])
    kernel.isActive = try read(StateTensor.active, { try $0.uint8s() }, count: 1)[0] != 0
    self = kernel
  }
}

extension IAKKernel {
  /// Builds a serving kernel of `domain` from weight tensors alone (as published: the names of
  /// `weightTensors(prefix:)`), inferring its shape from them. The kernel is marked active;
  /// its optimiser state is empty, so it serves but is not meant to continue training.
  ///
  /// - Throws: `LearnerError.invalidModel` naming the missing or inconsistent tensor.
  public init(domain: String, weightTensors tensors: [String: Tensor], prefix: String = "")
    throws(LearnerError)
  {
    guard let decoder = tensors[prefix + "decoder.weight"], decoder.shape.count == 2,
      let encoder = tensors[prefix + "encoder.weight"], encoder.shape.count == 2
    else {
      throw .invalidModel(
        "kernel '\(domain)': tensors '\(prefix)encoder.weight' and '\(prefix)decoder.weight' "
          + "(2-D) are required; is this a kernel file?")
    }
    let bottleneck = decoder.shape[0]
    let width = decoder.shape[1]
    let hidden = tensors[prefix + "encoder_hidden.weight"]?.shape.last ?? 0
    if [bottleneck, width, hidden].contains(where: { $0 < 0 || $0 > 1 << 16 }) || bottleneck < 1
      || width < 1
    {
      throw .invalidModel(
        "kernel '\(domain)': decoder.weight \(decoder.shape) is not a valid kernel shape")
    }
    let layout = KernelLayout(width: width, encoderHidden: hidden, bottleneck: bottleneck)
    if encoder.shape != [layout.encoderInputWidth, 2 * bottleneck] {
      throw .invalidModel(
        "kernel '\(domain)': encoder.weight is \(encoder.shape), expected "
          + "\([layout.encoderInputWidth, 2 * bottleneck]) for decoder.weight \(decoder.shape)")
    }
    var state = IAKKernel(domain: domain, layout: layout, seed: 0).stateTensors(prefix: prefix)
    for (name, tensor) in tensors where state[name] != nil { state[name] = tensor }
    state[prefix + StateTensor.active] = Tensor(uint8s: [1], shape: [1])
    try self.init(domain: domain, stateTensors: state, prefix: prefix)
  }
}

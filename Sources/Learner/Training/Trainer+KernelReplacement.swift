import Checkpoint

extension Trainer {
  /// A new state of `domain` (fresh kernel, optimiser and proxies) that keeps what belongs to
  /// the domain rather than its kernel: the open batch and when it opened, the prequential
  /// evaluation, the last-seen time, the lane (the partition owning the domain, which its
  /// hand-over goes by) and the click-delay counts.
  private func freshState(keepingTheDomainOf state: DomainState, domain: String) -> DomainState {
    var fresh = makeState(domain)
    fresh.pending = state.pending
    fresh.clickDelays = state.clickDelays
    fresh.batchOpenedMs = state.batchOpenedMs
    fresh.evaluation = state.evaluation
    fresh.lastSeenMs = state.lastSeenMs
    fresh.lane = state.lane
    return fresh
  }

  /// Starts `domain`'s adaptation over from zero, the answer to `drift.* = reset`: a fresh
  /// kernel (the encoder initialised as for a new domain, a zero decoder, so scores equal the
  /// backbone's), fresh Adam moments and step count, a fresh noise generator, no examples seen
  /// (so it is inactive until `activationMinExamples` again), and fresh information proxies,
  /// which describe the kernel. In output bias mode the bias goes back to zero. The open batch
  /// (with its opening time), the prequential evaluation, the last-seen time and the lane are
  /// kept.
  ///
  /// Returns false, changing nothing, when the domain does not exist.
  @discardableResult
  public func resetKernel(of domain: String) -> Bool {
    guard let state = states[domain] else { return false }
    states[domain] = freshState(keepingTheDomainOf: state, domain: domain)
    logger.info("kernel reset", ["domain": domain])
    return true
  }

  /// Makes `domain`'s kernel the one stored in `tensors` under `"<domain>/"` (a trainer
  /// snapshot, as `stateTensors()` writes it), the answer to `drift.* = rollback`: its weights,
  /// Adam moments and step, noise generator, examples seen and activation flag, and in output
  /// bias mode its bias. The information proxies start fresh (they describe the kernel); the
  /// open batch and the prequential evaluation are kept. Nothing changes when it throws.
  ///
  /// - Throws: `LearnerError.invalidModel` when the domain does not exist, or the stored kernel
  ///   is missing, malformed or of another shape than this trainer's.
  public func rollBackKernel(of domain: String, toStateIn tensors: [String: Tensor])
    throws(LearnerError)
  {
    guard let state = states[domain] else {
      throw .invalidModel(
        "cannot roll back domain '\(domain)': the trainer has no such domain")
    }
    let prefix = domain + "/"
    let kernel = try storedKernel(
      of: domain, in: tensors, context: "cannot roll back domain '\(domain)'")
    var restored = freshState(keepingTheDomainOf: state, domain: domain)
    restored.kernel = kernel
    if config.mode == .outputBias {
      guard let bias = try? tensors[prefix + StateTensor.outputBias]?.floats(), bias.count == 3,
        let step = try? tensors[prefix + StateTensor.outputBiasStep]?.int64s(), step.count == 1,
        step[0] >= 0
      else {
        throw .invalidModel(
          "cannot roll back domain '\(domain)': tensors '\(prefix)\(StateTensor.outputBias)' "
            + "(float32 [3]) and '\(prefix)\(StateTensor.outputBiasStep)' (int64 [1]) are "
            + "required in output bias mode")
      }
      restored.bias.value = bias[0]
      restored.bias.firstMoment = bias[1]
      restored.bias.secondMoment = bias[2]
      restored.bias.stepCount = Int(step[0])
    }
    states[domain] = restored
    logger.info(
      "kernel rolled back",
      ["domain": domain, "step": "\(kernel.stepCount)", "examples": "\(kernel.examplesSeen)"])
  }
}

extension Trainer {
  /// What every domain holds in memory, by part (see `DomainMemory`); walks all domains, so
  /// it is for benchmarks and reports, not the hot path.
  public var domainMemory: DomainMemory {
    var memory = DomainMemory()
    for (domain, state) in states {
      memory.domains += 1
      memory.kernelBytes += state.kernel.heldBytes
      for meter in state.evaluation.meters {
        memory.windowBytes += meter.windowHeldBytes
        memory.histogramBytes += meter.histogram.heldBytes
      }
      memory.proxyBytes += state.proxies.heldBytes
      memory.pendingCapacityBytes += state.pending.capacity * MemoryLayout<Example>.stride
      memory.pendingExampleBytes += state.pending.reduce(0) { $0 + $1.heldBytes }
      memory.entryBytes += MemoryLayout<DomainState>.stride + domain.utf8.count
    }
    return memory
  }
}

extension IAKKernel {
  /// Bytes of the parameters and Adam moments' buffers.
  fileprivate var heldBytes: Int {
    (parameters.capacity + firstMoment.capacity + secondMoment.capacity)
      * MemoryLayout<Float>.stride
  }
}

extension LogitHistogram {
  /// Bytes of the occupied bins' buffers.
  fileprivate var heldBytes: Int {
    bins.capacity * MemoryLayout<UInt16>.stride
      + (positiveCounts.capacity + negativeCounts.capacity) * MemoryLayout<Int64>.stride
  }
}

extension InformationProxies {
  /// Bytes of the per-dimension KL buffer.
  fileprivate var heldBytes: Int { klPerDimension.capacity * MemoryLayout<Double>.stride }
}

extension DomainEvaluation {
  /// The five meters.
  fileprivate var meters: [PrequentialMeter] {
    [adapted, backbone, servingBackbone, servingKernel, served]
  }
}

extension Example {
  /// Bytes of the example's own strings and numbers beyond the `Example` value (strings of up
  /// to 15 UTF-8 bytes live inside their value).
  fileprivate var heldBytes: Int {
    func bytes(_ text: String) -> Int { text.utf8.count > 15 ? text.utf8.count : 0 }
    return bytes(domain) + categorical.capacity * MemoryLayout<String>.stride
      + categorical.reduce(0) { $0 + bytes($1) } + numeric.capacity * MemoryLayout<Float>.stride
  }
}

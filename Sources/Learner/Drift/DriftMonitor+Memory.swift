extension DriftMonitor {
  /// Bytes of the per-domain windows the monitors hold (the relevance window's and the serving
  /// guard's buffers, by capacity); walks all domains, so it is for benchmarks.
  public var windowHeldBytes: Int {
    monitors.values.reduce(0) { total, monitor in
      total + monitor.relevanceWindow.slots.capacity * MemoryLayout<Double>.stride
        + (monitor.servingGuard.slots.capacity + monitor.servingGuard.losses.capacity)
        * MemoryLayout<Float>.stride
        + monitor.servingGuard.keys.capacity * MemoryLayout<Int16>.stride
    }
  }
}

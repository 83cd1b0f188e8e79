import Checkpoint

extension DriftMonitor {
  /// Every domain's drift state as named tensors `"<domain>/drift.*"` (see
  /// `DomainDriftMonitor.StateTensor`), for the snapshot next to the kernels.
  public func stateTensors() -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for (domain, monitor) in monitors {
      result.merge(monitor.stateTensors(prefix: domain + "/")) { _, new in new }
    }
    return result
  }

  /// Restores the detectors of every domain found in `tensors` (other tensors are ignored).
  ///
  /// - Throws: `DriftStateError` naming the domain and tensor that could not be read.
  public init(settings: DriftSettings, stateTensors tensors: [String: Tensor])
    throws(DriftStateError)
  {
    self.init(settings: settings)
    let marker = "/" + DomainDriftMonitor.StateTensor.counters
    for name in tensors.keys where name.hasSuffix(marker) {
      let domain = String(name.dropLast(marker.count))
      monitors[domain] = try DomainDriftMonitor(
        domain: domain, settings: settings, stateTensors: tensors, prefix: domain + "/")
    }
  }
}

extension DriftMonitor {
  /// The drift state of `domains` only, in the layout of `stateTensors()`.
  public func stateTensors(ofDomains domains: some Sequence<String>) -> [String: Tensor] {
    var result: [String: Tensor] = [:]
    for domain in domains {
      guard let monitor = monitors[domain] else { continue }
      result.merge(monitor.stateTensors(prefix: domain + "/")) { _, new in new }
    }
    return result
  }

  /// Adds the detectors of every domain found in `tensors` (from `stateTensors(ofDomains:)`),
  /// replacing those of the same domains; other domains are kept. Nothing changes when it
  /// throws.
  ///
  /// - Throws: `DriftStateError` naming the domain and tensor that could not be read.
  public mutating func adopt(stateTensors tensors: [String: Tensor]) throws(DriftStateError) {
    let adopted = try DriftMonitor(settings: settings, stateTensors: tensors)
    monitors.merge(adopted.monitors) { _, new in new }
  }
}

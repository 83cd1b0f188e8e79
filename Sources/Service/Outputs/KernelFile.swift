import Checkpoint
import Learner

/// Reads kernels from a safetensors file: a snapshot's `kernels.safetensors` (tensors named
/// `<domain>/<tensor>`, full training state) or a published kernel (one domain's serving
/// tensors, its domain in the `domain` metadata).
public enum KernelFile {
  /// The kernels in `path`, keyed by domain.
  ///
  /// - Throws: the file's read or decode error, or `LearnerError.invalidModel` naming the
  ///   domain whose tensors are malformed.
  public static func load(_ path: String) throws -> [String: IAKKernel] {
    let file = try SafeTensors.read(from: path)
    if let domain = file.metadata["domain"], file.tensors.keys.allSatisfy({ !$0.contains("/") }) {
      var kernel = try IAKKernel(domain: domain, weightTensors: file.tensors)
      if file.metadata["active"] == "false" { kernel = try inactive(kernel) }
      return [domain: kernel]
    }
    var byDomain: [String: [String: Tensor]] = [:]
    for (name, tensor) in file.tensors {
      guard let slash = name.lastIndex(of: "/") else { continue }
      byDomain[String(name[..<slash]), default: [:]][name] = tensor
    }
    var kernels: [String: IAKKernel] = [:]
    for (domain, tensors) in byDomain {
      let prefix = domain + "/"
      guard tensors[prefix + "encoder.weight"] != nil else { continue }  // other state
      if tensors[prefix + IAKKernel.StateTensor.step] != nil {
        kernels[domain] = try IAKKernel(domain: domain, stateTensors: tensors, prefix: prefix)
      } else {
        kernels[domain] = try IAKKernel(domain: domain, weightTensors: tensors, prefix: prefix)
      }
    }
    return kernels
  }

  private static func inactive(_ kernel: IAKKernel) throws -> IAKKernel {
    var state = kernel.stateTensors()
    state[IAKKernel.StateTensor.active] = Tensor(uint8s: [0], shape: [1])
    return try IAKKernel(domain: kernel.domain, stateTensors: state)
  }
}

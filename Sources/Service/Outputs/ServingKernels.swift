import Checkpoint
import Foundation
import Learner

/// A set of kernels as a serving system holds it: each domain's kernel, whether it serves, and
/// the backbone it was trained on, read from any of the places the service writes kernels.
///
/// - a folder written by `kernels export` (its `kernels.json` index and one file per domain);
/// - one published kernel (`iak-kernel/1`: its `active` and `backbone_sha256` metadata);
/// - a snapshot's `kernels.safetensors` in its version folder, or that folder: the `manifest.json`
///   beside it gives the backbone and the domains drift deactivated, and a kernel serves by the
///   rule of `Pipeline.isServing(_:)` (`SnapshotView.isServing(_:)`).
public struct ServingKernels {
  /// Every kernel read, keyed by domain.
  public var kernels: [String: IAKKernel]
  /// The domains whose kernel serves; the others score with the backbone alone.
  public var servingDomains: Set<String>
  /// The sha256 of the backbone each domain's kernel was trained on.
  public var backboneSHA256: [String: String]

  /// Creates a set.
  public init(
    kernels: [String: IAKKernel], servingDomains: Set<String>, backboneSHA256: [String: String]
  ) {
    self.kernels = kernels
    self.servingDomains = servingDomains
    self.backboneSHA256 = backboneSHA256
  }

  /// Every kernel, active exactly when it serves, keyed by domain: a `Scorer` applies the
  /// serving ones and scores the others in shadow.
  ///
  /// - Throws: `LearnerError.invalidModel` when a kernel's tensors are malformed.
  public func scoringKernels() throws -> [String: IAKKernel] {
    try kernels.mapValues { kernel in
      if kernel.isActive == servingDomains.contains(kernel.domain) { return kernel }
      var state = kernel.stateTensors()
      state[IAKKernel.StateTensor.active] = Tensor(
        uint8s: [servingDomains.contains(kernel.domain) ? 1 : 0], shape: [1])
      return try IAKKernel(domain: kernel.domain, stateTensors: state)
    }
  }

  /// The domains whose kernel was trained on another backbone than `sha256`, sorted.
  public func domains(notTrainedOn sha256: String) -> [String] {
    kernels.keys.filter { backboneSHA256[$0] != sha256 }.sorted()
  }

  /// Reads the kernels at `path` (see the type's documentation for what it may be).
  ///
  /// - Throws: `UsageError` when `path` is none of those (naming what to pass instead), or the
  ///   read or decode error of a file.
  public static func load(_ path: String) throws -> ServingKernels {
    var isFolder: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isFolder) else {
      throw UsageError("--kernels \(path): no such file or folder")
    }
    if isFolder.boolValue {
      if FileManager.default.fileExists(atPath: path + "/" + KernelIndex.fileName) {
        return try exported(path)
      }
      let payload = path + "/" + SnapshotStore.payloadFileName
      if FileManager.default.fileExists(atPath: payload) { return try snapshot(payload) }
      throw UsageError(
        "--kernels \(path): a folder without \(KernelIndex.fileName) (written by `kernels "
          + "export`) or \(SnapshotStore.payloadFileName) (a snapshot version folder)")
    }
    let file = try SafeTensors.read(from: path)
    if let domain = file.metadata["domain"], file.tensors.keys.allSatisfy({ !$0.contains("/") }) {
      return try published(file, domain: domain, path: path)
    }
    return try snapshot(path, payload: file)
  }

  private static func published(_ file: SafeTensors, domain: String, path: String) throws
    -> ServingKernels
  {
    guard let active = file.metadata["active"], active == "true" || active == "false" else {
      throw UsageError("\(path): metadata 'active' must be \"true\" or \"false\"")
    }
    let kernel = try IAKKernel(domain: domain, weightTensors: file.tensors)
    return ServingKernels(
      kernels: [domain: kernel], servingDomains: active == "true" ? [domain] : [],
      backboneSHA256: file.metadata["backbone_sha256"].map { [domain: $0] } ?? [:])
  }

  private static func exported(_ folder: String) throws -> ServingKernels {
    let index = try KernelIndex.read(from: folder)
    var result = ServingKernels(kernels: [:], servingDomains: [], backboneSHA256: [:])
    for entry in index.entries {
      let path = folder + "/" + entry.file
      let file = try SafeTensors.read(from: path)
      guard file.metadata["domain"] == entry.domain else {
        throw UsageError(
          "\(path) holds domain '\(file.metadata["domain"] ?? "none")', but "
            + "\(folder)/\(KernelIndex.fileName) lists it for '\(entry.domain)'")
      }
      let one = try published(file, domain: entry.domain, path: path)
      result.kernels[entry.domain] = one.kernels[entry.domain]
      // A kernel serves when the index and its file both say so.
      if entry.isActive && one.servingDomains.contains(entry.domain) {
        result.servingDomains.insert(entry.domain)
      }
      result.backboneSHA256[entry.domain] = entry.backboneSHA256
    }
    return result
  }

  private static func snapshot(_ path: String, payload: SafeTensors? = nil) throws
    -> ServingKernels
  {
    let manifestPath =
      (path as NSString).deletingLastPathComponent + "/" + SnapshotManifest.fileName
    guard let bytes = FileManager.default.contents(atPath: manifestPath) else {
      throw UsageError(
        "\(path) holds kernels without the \(SnapshotManifest.fileName) of their snapshot "
          + "beside it: which backbone they belong to and whether they serve are unknown; pass "
          + "a snapshot's kernels.safetensors in its version folder, a folder written by "
          + "`kernels export`, or one published kernel file")
    }
    let manifest: SnapshotManifest
    do {
      manifest = try SnapshotManifest.decode(Array(bytes))
    } catch {
      throw UsageError("\(manifestPath): \(error.message)")
    }
    let view = SnapshotView(
      Snapshot(manifest: manifest, payload: try payload ?? SafeTensors.read(from: path)))
    var result = ServingKernels(kernels: [:], servingDomains: [], backboneSHA256: [:])
    for domain in view.domains {
      result.kernels[domain] = try view.kernel(of: domain)
      if try view.isServing(domain) { result.servingDomains.insert(domain) }
      result.backboneSHA256[domain] = manifest.backboneSHA256
    }
    return result
  }
}

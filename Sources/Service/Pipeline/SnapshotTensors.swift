import Checkpoint

/// A snapshot's state tensors (`Pipeline.stateTensors()`), from which a checkpoint takes each
/// partition's domains' tensors for its hand-over instead of building them again: a domain's
/// tensors (the trainer's and the drift monitor's) are those named `"<domain>/<name>"`.
///
/// Taking a domain's tensors removes them, so that, once the snapshot itself is released, the
/// tensors of the partitions already encoded are freed as the next are (the peak then stays
/// about one copy of the state, as when each partition's tensors were built in turn). Each
/// domain is taken at most once (it belongs to one partition). A class: the checkpoint's
/// partitions take from one instance in turn, on the training thread.
final class SnapshotTensors {
  private var tensors: [String: Tensor]
  /// The names of each domain's tensors (keyed by slices of the names: no copy of a domain's
  /// name per tensor).
  private var namesByDomain: [Substring: [String]] = [:]

  /// Indexes `tensors` by the domains `domains`. A name `"a/b/c"` belongs to the domain of the
  /// longest of `"a/b"` and `"a"` that is one of `domains` (domain names may hold slashes).
  init(_ tensors: [String: Tensor], domains: Set<String>) {
    self.tensors = tensors
    let domains = Set(domains.map { Substring($0) })
    namesByDomain.reserveCapacity(domains.count)
    for name in tensors.keys {
      var end = name.endIndex
      // By bytes: "/" is one byte of UTF-8, and its index is a character boundary.
      while let slash = name.utf8[..<end].lastIndex(of: UInt8(ascii: "/")) {
        let prefix = name[..<slash]
        if domains.contains(prefix) {
          namesByDomain[prefix, default: []].append(name)
          break
        }
        end = slash
      }
    }
  }

  /// Moves the tensors of `domains` into `result` (a name already there is kept).
  func take(_ domains: [String], into result: inout [String: Tensor]) {
    for domain in domains {
      guard let names = namesByDomain.removeValue(forKey: Substring(domain)) else { continue }
      for name in names {
        if let tensor = tensors.removeValue(forKey: name), result[name] == nil {
          result[name] = tensor
        }
      }
    }
  }
}

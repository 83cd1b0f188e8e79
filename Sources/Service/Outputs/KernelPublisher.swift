import Checkpoint
import Dispatch
import Foundation
import Learner
import Observability
import Stream
import Synchronization

/// Publishes versioned kernels: one self-contained safetensors file per changed domain, to the
/// compacted kernels topic (key = domain, header `iak-version`) and optionally to a folder.
///
/// A publish returns only when every message is delivered; any failure throws, so the caller
/// holds its offset commit back and retries (DESIGN.md: publish, then commit).
public final class KernelPublisher {
  /// One kernel to publish.
  public struct Item: Sendable {
    /// The kernel (its serving tensors are published, never its optimiser state).
    public var kernel: IAKKernel
    /// The domain's kernel version (increases each time the domain is published).
    public var kernelVersion: Int
    /// Whether serving should use it (false when drift deactivated it).
    public var isActive: Bool

    /// Creates an item.
    public init(kernel: IAKKernel, kernelVersion: Int, isActive: Bool) {
      self.kernel = kernel
      self.kernelVersion = kernelVersion
      self.isActive = isActive
    }
  }

  /// Why a publish did not complete.
  public struct Failure: Error, CustomStringConvertible {
    /// Domains whose message was not delivered or whose file was not written.
    public var domains: [String]
    /// The first error seen.
    public var reason: String
    /// What went wrong.
    public var description: String {
      "publishing \(domains.count) kernel(s) failed (\(domains.prefix(3).joined(separator: ", "))"
        + "\(domains.count > 3 ? ", ..." : "")): \(reason); offsets are not committed until a "
        + "publish succeeds"
    }
  }

  private let producer: KafkaProducer?
  private let topic: String
  private let folder: String?
  /// The backbone the kernels were trained on (a backbone switch changes it).
  var backboneSHA256: String
  private let kernelConfig: KernelConfig
  private let logger: Logger
  private let published: Metric?
  private let failures: Metric?

  /// Creates a publisher writing to `topic` through `producer` (nil: no topic) and to `folder`
  /// (nil: no files).
  public init(
    producer: KafkaProducer?, topic: String, folder: String?, backboneSHA256: String,
    kernelConfig: KernelConfig, logger: Logger, metrics: MetricsRegistry?
  ) {
    self.producer = producer
    self.topic = topic
    self.folder = folder
    self.backboneSHA256 = backboneSHA256
    self.kernelConfig = kernelConfig
    self.logger = logger
    published = metrics?.counter("iak_kernels_published_total", help: "Kernels published.").with()
    failures = metrics?.counter(
      "iak_publish_failures_total", help: "Kernel publishes that failed (retried)."
    ).with()
  }

  /// The self-contained serving file of one kernel: its weights and the metadata a serving
  /// system needs to check it belongs to its backbone.
  public static func servingFile(
    of item: Item, snapshotVersion: Int, backboneSHA256: String, kernelConfig: KernelConfig,
    createdAtMilliseconds: Int64
  ) -> SafeTensors {
    SafeTensors(
      tensors: item.kernel.weightTensors(),
      metadata: [
        "format": "iak-kernel/1",
        "domain": item.kernel.domain,
        "kernel_version": String(item.kernelVersion),
        "snapshot_version": String(snapshotVersion),
        "backbone_sha256": backboneSHA256,
        "insert_at": kernelConfig.insertAt.description,
        "bottleneck": String(kernelConfig.bottleneck),
        "encoder_hidden": String(kernelConfig.encoderHidden),
        "examples_seen": String(item.kernel.examplesSeen),
        "active": item.isActive ? "true" : "false",
        "created_at_ms": String(createdAtMilliseconds),
      ])
  }

  /// Publishes `items` and waits for every delivery (and file write).
  ///
  /// - Throws: `Failure` naming the domains that were not published.
  public func publish(
    _ items: [Item], snapshotVersion: Int, createdAtMilliseconds: Int64,
    timeout: Duration = .seconds(30), via transaction: KafkaProducer? = nil
  ) throws(Failure) {
    let producer = transaction ?? self.producer
    guard !items.isEmpty else { return }
    let failed = Mutex<[String: String]>([:])
    let delivered = Mutex<Set<String>>([])
    let group = DispatchGroup()
    for item in items {
      let bytes = Self.servingFile(
        of: item, snapshotVersion: snapshotVersion, backboneSHA256: backboneSHA256,
        kernelConfig: kernelConfig, createdAtMilliseconds: createdAtMilliseconds
      ).encoded()
      let domain = item.kernel.domain
      if let folder {
        // Domain names come from event data: only a sanitised `window/region` becomes a path.
        guard DomainKey(parsing: domain) != nil else {
          failed.withLock {
            $0[domain] =
              "domain \(domain.debugDescription) is not a safe window/region name; "
              + "no file was written for it"
          }
          continue
        }
        do {
          try FileManager.default.createDirectory(
            atPath: Self.parent(of: "\(folder)/\(domain).safetensors"),
            withIntermediateDirectories: true)
          try AtomicFile.write(bytes, to: "\(folder)/\(domain).safetensors")
        } catch {
          failed.withLock { $0[domain] = "\(error)" }
        }
      }
      guard let producer else { continue }
      group.enter()
      do {
        try producer.send(
          OutgoingRecord(
            topic: topic, key: Array(domain.utf8), value: bytes,
            headers: [
              Record.Header(name: "iak-version", value: Array("\(item.kernelVersion)".utf8))
            ],
            timestampMs: createdAtMilliseconds)
        ) { result in
          switch result {
          case .success: _ = delivered.withLock { $0.insert(domain) }
          case .failure(let error): failed.withLock { $0[domain] = "\(error)" }
          }
          group.leave()
        }
      } catch {
        failed.withLock { $0[domain] = "\(error)" }
        group.leave()
      }
    }
    if group.wait(timeout: .now() + timeout.inSeconds) == .timedOut {
      let done = delivered.withLock { $0 }
      for item in items where !done.contains(item.kernel.domain) {
        failed.withLock { $0[item.kernel.domain] = $0[item.kernel.domain] ?? "delivery timed out" }
      }
    }
    let failures = failed.withLock { $0 }
    if !failures.isEmpty {
      self.failures?.increment()
      let domains = failures.keys.sorted()
      throw Failure(domains: domains, reason: failures[domains[0]] ?? "unknown")
    }
    published?.increment(by: Double(items.count))
    let destination =
      [producer == nil ? nil : "topic \(topic)", folder.map { "folder \($0)" }]
      .compactMap { $0 }.joined(separator: " and ")
    logger.info(
      "published kernels",
      ["count": "\(items.count)", "snapshot": "\(snapshotVersion)", "to": destination])
  }

  private static func parent(of path: String) -> String {
    (path as NSString).deletingLastPathComponent
  }
}

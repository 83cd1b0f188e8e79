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
        + "\(domains.count > 3 ? ", ..." : "")): \(reason)"
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
    try send(
      items, backboneSHA256: backboneSHA256, key: { $0 }, headers: [], writesFiles: true,
      snapshotVersion: snapshotVersion, createdAtMilliseconds: createdAtMilliseconds,
      timeout: timeout, producer: transaction ?? producer)
  }

  /// The key of a kernel published ahead for the backbone `sha256`: `<domain>@<sha12>`
  /// (docs/FORMAT.md, "During a backbone upgrade").
  public static func aheadKey(_ domain: String, backboneSHA256 sha256: String) -> String {
    "\(domain)@\(sha256.prefix(12))"
  }

  /// Publishes re-based kernels of the backbone `sha256` ahead of a switch, under
  /// `aheadKey(_:backboneSHA256:)` with the header `iak-rebase` (`rebase`, which names the
  /// re-base their numbers belong to), to the topic only; waits for every delivery.
  ///
  /// - Throws: `Failure` naming the domains that were not published.
  public func publishAhead(
    _ items: [Item], backboneSHA256 sha256: String, rebase: String, snapshotVersion: Int,
    createdAtMilliseconds: Int64, timeout: Duration = .seconds(30)
  ) throws(Failure) {
    guard producer != nil else {
      throw Failure(domains: items.map(\.kernel.domain), reason: "no kernels topic")
    }
    try send(
      items, backboneSHA256: sha256, key: { Self.aheadKey($0, backboneSHA256: sha256) },
      headers: [Record.Header(name: "iak-rebase", value: Array(rebase.utf8))],
      writesFiles: false, snapshotVersion: snapshotVersion,
      createdAtMilliseconds: createdAtMilliseconds, timeout: timeout, producer: producer)
  }

  /// Removes the serving files of `domains` from the folder (retired domains whose period can
  /// no longer come back), and each window's folder left empty; returns how many files went.
  /// Without it the folder kept a file for every domain ever published. Only names that are a
  /// safe `window/region` are touched, as `send` writes only those.
  @discardableResult
  public func removeFiles(of domains: [String]) -> Int {
    guard let folder else { return 0 }
    var removed = 0
    var windows = Set<String>()
    for domain in domains where DomainKey(parsing: domain) != nil {
      let path = "\(folder)/\(domain).safetensors"
      guard (try? FileManager.default.removeItem(atPath: path)) != nil else { continue }
      removed += 1
      windows.insert(Self.parent(of: path))
    }
    for window in windows
    where (try? FileManager.default.contentsOfDirectory(atPath: window))?.isEmpty == true {
      try? FileManager.default.removeItem(atPath: window)
    }
    return removed
  }

  /// Whether it writes to a kernels topic (not only to a folder).
  public var hasTopic: Bool { producer != nil }

  /// The announcement's key on the kernels topic.
  public static let announcementKey = ".backbone"

  /// Publishes `announcement` (key `.backbone`) and waits for its delivery; nothing without a
  /// topic.
  ///
  /// - Throws: `Failure` (no domains) when it was not delivered.
  public func announce(_ announcement: BackboneAnnouncement, timeout: Duration = .seconds(30))
    throws(Failure)
  {
    guard let producer else { throw Failure(domains: [], reason: "no kernels topic") }
    let outcome = Mutex<String?>("delivery timed out")
    let done = DispatchSemaphore(value: 0)
    do {
      try producer.send(
        OutgoingRecord(
          topic: topic, key: Array(Self.announcementKey.utf8),
          value: Array(announcement.jsonLine.utf8),
          timestampMs: announcement.createdAtMilliseconds)
      ) { result in
        switch result {
        case .success: outcome.withLock { $0 = nil }
        case .failure(let error): outcome.withLock { $0 = "\(error)" }
        }
        done.signal()
      }
    } catch {
      throw Failure(domains: [], reason: "\(error)")
    }
    _ = done.wait(timeout: .now() + timeout.inSeconds)
    if let reason = outcome.withLock({ $0 }) {
      failures?.increment()
      throw Failure(domains: [], reason: reason)
    }
    logger.info(
      "announced the backbone switch on the kernels topic",
      ["backbone": announcement.backboneSHA256, "partitions": "\(announcement.switchedAt.count)"])
  }

  private func send(
    _ items: [Item], backboneSHA256: String, key: (String) -> String, headers: [Record.Header],
    writesFiles: Bool,
    snapshotVersion: Int, createdAtMilliseconds: Int64, timeout: Duration,
    producer: KafkaProducer?
  ) throws(Failure) {
    guard !items.isEmpty else { return }
    let folder = writesFiles ? self.folder : nil
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
          try OutputFolder.create(
            Self.parent(of: "\(folder)/\(domain).safetensors"), named: "the kernel folder")
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
            topic: topic, key: Array(key(domain).utf8), value: bytes,
            headers: [
              Record.Header(name: "iak-version", value: Array("\(item.kernelVersion)".utf8))
            ] + headers,
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
      writesFiles ? "published kernels" : "published re-based kernels ahead of the switch",
      [
        "count": "\(items.count)", "snapshot": "\(snapshotVersion)", "to": destination,
        "backbone": backboneSHA256,
      ])
  }

  private static func parent(of path: String) -> String {
    (path as NSString).deletingLastPathComponent
  }
}

import Checkpoint
import Foundation
import Learner
import Stream

extension CommandSpec {
  /// `iak-stream kernels`: inspects and manages the versioned kernels of the local store.
  public static let kernels = CommandSpec(
    name: "kernels",
    summary: "List, show, diff, roll back and export versioned kernels",
    usage: """
      iak-stream kernels list | show DOMAIN | diff V1 V2 | rollback DOMAIN --to VERSION |
             export --out DIR   [--checkpoint-dir DIR] [--version V]
      """,
    details: """
      Reads the local snapshot store (--checkpoint-dir, default checkpoint.dir); by default its
      newest valid snapshot, or --version V.
        list      one line per domain: kernel version, domain_examples (this domain's labelled
                  examples in closed batches, the ones its figures are measured on: those of
                  its open batch count once it closes, so their sum can be below the examples
                  serve reports), kernel_examples (every
                  example the kernel has trained on, those of the domains it was warm-started
                  from included), serving-time AUC and log loss of the kernel, the backbone and
                  what was served, whether it serves, when the snapshot was taken
        show      one domain: metadata, tensor shapes, statistics and information proxies
        diff      which domains changed between snapshot versions V1 and V2, and by how much
                  (relative L2 change of the weights, examples added)
        rollback  makes the kernel of DOMAIN from snapshot VERSION the live state again: writes a
                  new snapshot with it and republishes it (publish.topic, publish.dir) under a new
                  kernel version with exactly the old weights; with publish.topic empty, to
                  publish.dir alone, reaching no Kafka. Run it while serve is stopped. If the
                  publication fails the rollback stands (exit 1): the next serve publishes it
        export    writes every kernel's serving file to DIR, one folder per window (domain
                  1998-04/9 is DIR/1998-04/9.safetensors), with the active flag the service
                  holds (false while drift has deactivated it or its serving guard keeps it in
                  shadow), and DIR/kernels.json indexing them: domain, file, kernel version,
                  active, backbone sha256, examples seen (docs/FORMAT.md)
      """,
    options: [
      .value("--checkpoint-dir", "DIR", "Snapshot store (default checkpoint.dir)"),
      .value("--version", "V", "Snapshot version to read (default: newest valid)"),
      .value("--to", "VERSION", "rollback: the snapshot version to take the kernel from"),
      .value("--out", "DIR", "export: where to write the serving files"),
    ],
    run: { context in try KernelsTool(context: context).run() })
}

/// The `kernels` subcommands, over one store.
struct KernelsTool {
  /// What the command line asks for, read before the store is opened.
  enum Request: Equatable {
    case list
    case show(domain: String)
    case diff(first: Int, second: Int)
    case rollback(domain: String, version: Int)
    case export(folder: String)

    /// The subcommand names, in the order help and errors list them.
    static let names = ["list", "show", "diff", "rollback", "export"]

    /// The request `arguments` make.
    ///
    /// - Throws: `UsageError` for a missing or unknown subcommand, or words or options it
    ///   does not take.
    init(_ arguments: ParsedArguments) throws(UsageError) {
      let words = arguments.positionals
      let choices =
        Self.names.dropLast().joined(separator: ", ") + " or " + Self.names.last!
      switch words.first {
      case nil: throw UsageError("give a subcommand: \(choices)")
      case "list":
        guard words.count == 1 else { throw UsageError("kernels list takes no further word") }
        self = .list
      case "show":
        guard words.count == 2 else { throw UsageError("kernels show takes one DOMAIN") }
        self = .show(domain: words[1])
      case "diff":
        guard words.count == 3, let first = Int(words[1]), let second = Int(words[2]) else {
          throw UsageError("kernels diff takes two snapshot versions: kernels diff 4 7")
        }
        self = .diff(first: first, second: second)
      case "rollback":
        guard words.count == 2 else { throw UsageError("kernels rollback takes one DOMAIN") }
        let version = try arguments.int("--to", default: -1, in: 1...Int.max)
        guard version > 0 else { throw UsageError("kernels rollback needs --to VERSION") }
        self = .rollback(domain: words[1], version: version)
      case "export":
        guard words.count == 1 else { throw UsageError("kernels export takes no further word") }
        self = .export(folder: try arguments.required("--out"))
      case let word?:
        throw UsageError("unknown subcommand '\(word)': give \(choices)")
      }
    }
  }

  let context: CommandContext
  let request: Request
  /// `--version`: the snapshot to read, nil for the newest valid one.
  let version: Int?
  let store: SnapshotStore

  /// Reads the request, then opens the store.
  ///
  /// - Throws: `UsageError` for a command line it cannot run and `ServiceError` for an
  ///   export `--out` that is not a folder (both before the store is opened),
  ///   `SnapshotStoreError` when the store cannot be opened.
  init(context: CommandContext) throws {
    self.context = context
    request = try Request(context.arguments)
    version = try Self.snapshotVersion(context.arguments.value("--version"))
    if case .export(let folder) = request { try OutputFolder.checkFolder(folder, named: "--out") }
    let directory =
      context.arguments.value("--checkpoint-dir")
      ?? context.configuration.settings.checkpoint.dir
    store = try SnapshotStore(
      directory: directory, keep: context.configuration.settings.checkpoint.keep,
      createIfMissing: false)
  }

  /// The snapshot version `--version` gives (`text`), nil when it is not given.
  ///
  /// - Throws: `UsageError` when it is not a whole number from 1.
  static func snapshotVersion(_ text: String?) throws(UsageError) -> Int? {
    guard let text else { return nil }
    guard let version = Int(text), version >= 1 else {
      throw UsageError(
        "--version expects a snapshot version (a whole number from 1), got '\(text)'")
    }
    return version
  }

  func run() throws -> Int32 {
    switch request {
    case .list: try list()
    case .show(let domain): try show(domain)
    case .diff(let first, let second): try diff(first, second)
    case .rollback(let domain, let version): try rollback(domain, to: version)
    case .export(let folder): try export(to: folder)
    }
    return 0
  }

  func view(version: Int? = nil) throws -> SnapshotView {
    if let version = version ?? self.version {
      return SnapshotView(try store.load(version: version, expectingBackbone: nil))
    }
    return SnapshotView(
      try store.newestValidSnapshot(expectingBackbone: nil, logger: context.logger))
  }

  func list() throws {
    let view = try view()
    let versions = view.kernelVersions
    let stats = view.domainStats
    let created = view.snapshot.manifest.createdAt.formatted(.iso8601)
    context.print(
      "snapshot \(view.snapshot.manifest.version) taken \(created), backbone "
        + "\(view.snapshot.manifest.backboneSHA256.prefix(12))")
    context.print(
      "auc, backbone_auc, served_auc: at serving time (each impression scored when it arrived); "
        + "serving: whether the kernel serves (published active=true: min examples reached, not "
        + "deactivated by a drift action, shown no worse than the backbone)")
    context.print(
      pad([
        "domain", "version", "domain_examples", "kernel_examples", "auc", "backbone_auc",
        "served_auc", "logloss", "backbone_logloss", "units", "serving", "updated",
      ]))
    for domain in view.domains {
      let kernel = try view.kernel(of: domain)
      let row = stats[domain] ?? [:]
      let serving = try view.isServing(domain) ? "yes" : "no"
      context.print(
        pad([
          domain, "\(versions[domain] ?? 0)", row["examples"].map { "\(Int($0))" } ?? "-",
          "\(kernel.examplesSeen)", format(row["auc"]),
          format(row["backbone_auc"]), format(row["served_auc"]), format(row["logloss"]),
          format(row["backbone_logloss"]),
          row["active_units"].map { "\(Int($0))/\(kernel.layout.bottleneck)" } ?? "-",
          serving, created,
        ]))
    }
  }

  func show(_ domain: String) throws {
    let view = try view()
    guard view.domains.contains(domain) else {
      throw UsageError(
        "no kernel for domain '\(domain)' in snapshot \(view.snapshot.manifest.version)")
    }
    let kernel = try view.kernel(of: domain)
    context.print("domain: \(domain)")
    context.print("snapshot: \(view.snapshot.manifest.version)")
    context.print("kernel version: \(view.kernelVersions[domain] ?? 0)")
    if let examples = view.domainStats[domain]?["examples"] {
      context.print(
        "domain examples (labelled examples of this domain in closed batches): \(Int(examples))")
    }
    context.print(
      "kernel examples (all it trained on, warm starts included): \(kernel.examplesSeen)")
    context.print("optimiser steps: \(kernel.stepCount)")
    context.print("min examples reached (domain.min_examples): \(kernel.isActive)")
    context.print(
      "deactivated by a drift action: "
        + "\(SnapshotView.deactivatedDomains(in: view.snapshot.manifest).contains(domain))")
    context.print(
      "serving (published active: min examples reached, not deactivated, serving guard "
        + "passed): \(try view.isServing(domain))")
    context.print("backbone sha256: \(view.snapshot.manifest.backboneSHA256)")
    context.print("tensors:")
    for (name, tensor) in kernel.weightTensors().sorted(by: { $0.key < $1.key }) {
      context.print("  \(name) \(tensor.dtype.rawValue) \(tensor.shape)")
    }
    let stats = view.domainStats[domain] ?? [:]
    if !stats.isEmpty {
      context.print("statistics and information proxies:")
      for (name, value) in stats.sorted(by: { $0.key < $1.key }) {
        context.print("  \(name): \(format(value))")
      }
    }
  }

  func diff(_ first: Int, _ second: Int) throws {
    let before = try view(version: first)
    let after = try view(version: second)
    let domains = Set(before.domains).union(after.domains).sorted()
    context.print(pad(["domain", "change", "relative_l2", "examples_added"]))
    for domain in domains {
      let old = before.domains.contains(domain) ? try before.kernel(of: domain) : nil
      let new = after.domains.contains(domain) ? try after.kernel(of: domain) : nil
      switch (old, new) {
      case (nil, let new?):
        context.print(pad([domain, "added", "-", "\(new.examplesSeen)"]))
      case (_?, nil):
        context.print(pad([domain, "removed", "-", "-"]))
      case (let old?, let new?):
        let change = Self.relativeChange(old.weightTensors(), new.weightTensors())
        let added = new.examplesSeen - old.examplesSeen
        if change > 0 || added != 0 {
          context.print(pad([domain, "changed", format(change), "\(added)"]))
        }
      default: break
      }
    }
  }

  func rollback(_ domain: String, to version: Int) throws {
    let source = try view(version: version)
    guard source.domains.contains(domain) else {
      throw UsageError("snapshot \(version) has no kernel for domain '\(domain)'")
    }
    let latest = try view()
    var payload = latest.snapshot.payload
    for name in latest.tensors(of: domain).keys { payload.tensors[name] = nil }
    for (name, tensor) in source.tensors(of: domain) { payload.tensors[name] = tensor }
    // Numbered as a checkpoint numbers it: a domain retired since (or whose entry was dropped
    // under the book's floor) numbers on, never reusing a version.
    var extras = latest.snapshot.manifest.extras
    var book = DomainBook(metadata: extras)
    let kernel = try source.kernel(of: domain)
    // A replaced kernel gets a new number naming these weights at these steps (a checkpoint
    // then gives them no other), its retired entry gone.
    book.replaced(domain)
    let kernelVersion = book.allocate(stepCounts: [(domain, kernel.stepCount)])[0].version
    // Published below: the store's DELIVERED marker, not the book, says whether it went out.
    book.delivered(domain)
    // `encoded()` leaves an empty retired list out: the old one must not stay.
    extras[RetiredVersion.key] = nil
    extras.merge(book.encoded()) { _, new in new }
    let manifest = latest.snapshot.manifest
    let report = try store.write(
      payload, offsets: manifest.offsets, backboneSHA256: manifest.backboneSHA256,
      configurationDigest: manifest.configurationDigest, extras: extras)
    // Published active only if it serves in the snapshot just written (its own serving guard
    // state came with it; a drift deactivation of the domain stays).
    let isServing = try SnapshotView(Snapshot(manifest: report.manifest, payload: payload))
      .isServing(domain)
    let wasDelivered = Pipeline.deliveredVersion(in: store) == manifest.version
    let live =
      "rolled back \(domain) to its kernel of snapshot \(version): live in snapshot "
      + "\(report.manifest.version) as kernel version \(kernelVersion)"
    do {
      try publish(
        kernel, version: kernelVersion, isActive: isServing, snapshot: report.manifest.version,
        backboneSHA256: manifest.backboneSHA256)
    } catch {
      // The snapshot stands and is not marked delivered: the next `serve` from it publishes
      // every kernel of it again under the numbers it records, this one too.
      throw RollbackNotPublished(
        description:
          "\(live), but publishing it failed (\(Self.reason(of: error))). The rollback stands: "
          + "the next serve from this checkpoint directory publishes it under version "
          + "\(kernelVersion); do not roll back again (that would take another version)")
    }
    if wasDelivered { try Pipeline.writeDeliveredVersion(report.manifest.version, in: store) }
    let publishing = context.configuration.settings.publish
    let targets = [
      publishing.topic.isEmpty
        ? nil : "topic \(publishing.topic)",
      publishing.dir.isEmpty ? nil : publishing.dir,
    ].compactMap { $0 }
    context.print(
      live
        + (targets.isEmpty
          ? ", not published (publish.topic and publish.dir are empty)"
          : ", republished to " + targets.joined(separator: " and ")))
  }

  /// A rollback written to the store whose publication failed (exit status 1: trying the
  /// publication again, as `serve` does, may succeed).
  struct RollbackNotPublished: Error, CustomStringConvertible {
    let description: String
  }

  /// What went wrong in a publication: the publisher's reason alone, without its list of
  /// domains (this command publishes one).
  private static func reason(of error: any Error) -> String {
    if let failure = error as? KernelPublisher.Failure { return failure.reason }
    return "\(error)"
  }

  /// Writes every kernel's serving file with the `active` flag the service holds for it (a
  /// kernel that drift deactivated or that its serving guard keeps in shadow is exported with
  /// `active=false`), and the `kernels.json` index beside them.
  func export(to folder: String) throws {
    let view = try view()
    try OutputFolder.create(folder, named: "--out")
    let manifest = view.snapshot.manifest
    let kernelConfig = try context.configuration.kernelConfig()
    let publisher = KernelPublisher(
      producer: nil, topic: "", folder: folder, backboneSHA256: manifest.backboneSHA256,
      kernelConfig: kernelConfig, logger: context.logger, metrics: nil)
    let versions = view.kernelVersions
    let items = try view.domains.map { domain in
      KernelPublisher.Item(
        kernel: try view.kernel(of: domain), kernelVersion: versions[domain] ?? 0,
        isActive: try view.isServing(domain))
    }
    try publisher.publish(
      items, snapshotVersion: manifest.version,
      createdAtMilliseconds: manifest.createdAtMilliseconds)
    let index = KernelIndex(
      snapshotVersion: manifest.version, createdAtMilliseconds: manifest.createdAtMilliseconds,
      backboneSHA256: manifest.backboneSHA256, insertAt: kernelConfig.insertAt.description,
      bottleneck: kernelConfig.bottleneck, encoderHidden: kernelConfig.encoderHidden,
      entries: items.map {
        KernelIndex.Entry(
          domain: $0.kernel.domain, file: $0.kernel.domain + ".safetensors",
          kernelVersion: $0.kernelVersion, isActive: $0.isActive,
          backboneSHA256: manifest.backboneSHA256, examplesSeen: $0.kernel.examplesSeen)
      })
    try AtomicFile.write(index.encoded(), to: folder + "/" + KernelIndex.fileName)
    let serving = items.filter(\.isActive).count
    context.print(
      "exported \(items.count) kernels (\(serving) active, \(items.count - serving) not serving) "
        + "from snapshot \(manifest.version) to \(folder), indexed in \(KernelIndex.fileName)")
  }

  private func publish(
    _ kernel: IAKKernel, version: Int, isActive: Bool, snapshot: Int, backboneSHA256: String
  ) throws {
    let configuration = context.configuration
    let folder = configuration.settings.publish.dir
    // No topic (`publish.topic` empty): the folder alone, with no Kafka to reach.
    let producer =
      configuration.settings.publish.topic.isEmpty
      ? nil
      : try KafkaProducer.make(
        configuration: configuration.kafkaConfiguration, logger: context.logger)
    defer { try? producer?.close() }
    let publisher = KernelPublisher(
      producer: producer, topic: configuration.settings.publish.topic,
      folder: folder.isEmpty ? nil : folder, backboneSHA256: backboneSHA256,
      kernelConfig: try configuration.kernelConfig(), logger: context.logger,
      metrics: context.metrics)
    try publisher.publish(
      [KernelPublisher.Item(kernel: kernel, kernelVersion: version, isActive: isActive)],
      snapshotVersion: snapshot,
      createdAtMilliseconds: Int64(Date().timeIntervalSince1970 * 1000))
  }

  static func relativeChange(_ old: [String: Tensor], _ new: [String: Tensor]) -> Double {
    var difference = 0.0
    var norm = 0.0
    for (name, tensor) in new {
      let after = (try? tensor.floats()) ?? []
      let before =
        (old[name].flatMap { try? $0.floats() }) ?? Array(repeating: 0, count: after.count)
      for (a, b) in zip(after, before) {
        difference += Double(a - b) * Double(a - b)
        norm += Double(b) * Double(b)
      }
    }
    return norm > 0 ? (difference / norm).squareRoot() : difference.squareRoot()
  }

  private func format(_ value: Double?) -> String {
    value.map { String(format: "%.4f", $0) } ?? "-"
  }

  private func pad(_ columns: [String]) -> String {
    let widths = [18, 8, 15, 15, 7, 13, 11, 8, 17, 6, 8, 0]
    return zip(columns, widths + Array(repeating: 0, count: max(0, columns.count - widths.count)))
      .map { $0.padding(toLength: max($1, $0.count), withPad: " ", startingAt: 0) }
      .joined(separator: " ")
  }
}

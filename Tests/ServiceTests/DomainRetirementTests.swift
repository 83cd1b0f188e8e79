import Base
import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Testing

@testable import Service

/// `domain.max_domains` through the pipeline: daily domains over six days with a limit of
/// three; the least recently seen domains are retired once their kernels are published, and
/// leave the trainer, the drift monitor, the router, the snapshot and the metrics, while their
/// published kernels stay.
@Suite struct DomainRetirementTests {
  static let settings = [
    "backbone.fields=user,item", "backbone.buckets=512", "backbone.hidden=16,8",
    "domain.window=every 1d", "domain.max_domains=3", "train.batch_max=4",
  ]

  /// Day `day`'s impressions with pre-joined labels: 24, alternating east and west (west last),
  /// a minute apart.
  static func records(day: Int, firstOffset: Int64) -> [Record] {
    (0..<24).map { index in
      let time = 883_612_800_000 + Int64(day) * 86_400_000 + Int64(index) * 60_000
      let region = index % 2 == 0 ? "east" : "west"
      let line =
        "{\"type\":\"impression\",\"id\":\"d\(day)-\(index)\",\"ts\":\(time),"
        + "\"region\":\"\(region)\",\"user\":\"u\(index % 5)\",\"item\":\"m\(index % 7)\","
        + "\"click\":\(index % 3 == 0 ? 1 : 0)}"
      return Record(
        topic: "events", partition: 0, offset: firstOffset + Int64(index), value: Array(line.utf8))
    }
  }

  /// Hands `records` to the pipeline as serve does (decoded on the consumer thread) or as
  /// replay does (raw).
  static func feed(_ records: [Record], to pipeline: Pipeline, decodedAhead: Bool) throws {
    if decodedAhead {
      try pipeline.process(records.map(pipeline.decoder.decodeAhead))
    } else {
      try pipeline.process(records)
    }
  }

  /// A pipeline with the settings above, snapshots in `folder/store` and kernels published
  /// to `folder/published`.
  static func pipeline(
    folder: String, metrics: MetricsRegistry, extraSettings: [String] = []
  ) throws -> (Pipeline, SnapshotStore) {
    var configuration = Configuration()
    for setting in settings + extraSettings { try configuration.apply(override: setting) }
    let backbone = try Backbone(
      config: BackboneConfig(
        fields: ["user", "item"], buckets: 512, embeddingDim: 16, hiddenSizes: [16, 8]),
      seed: 3)
    let store = try SnapshotStore(directory: folder + "/store", keep: 3)
    let pipeline = try Pipeline(
      configuration: configuration, backbone: backbone, backboneSHA256: "bb", store: store,
      publisher: KernelPublisher(
        producer: nil, topic: "", folder: folder + "/published", backboneSHA256: "bb",
        kernelConfig: try configuration.kernelConfig(), logger: .disabled, metrics: metrics),
      alertEmitter: nil, deadLetters: nil, logger: .disabled, metrics: metrics)
    return (pipeline, store)
  }

  /// The kernel version in the published file of `domain` under `folder`.
  static func publishedVersion(of domain: String, in folder: String) throws -> Int? {
    let bytes = [UInt8](
      try Data(contentsOf: URL(fileURLWithPath: "\(folder)/\(domain).safetensors")))
    return Int(try SafeTensors.decode(bytes).metadata["kernel_version"] ?? "")
  }

  @Test(arguments: [false, true])
  func leastRecentlySeenDomainsAreRetiredOncePublished(decodedAhead: Bool) throws {
    let folder =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-retirement-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let metrics = MetricsRegistry()
    let (pipeline, store) = try Self.pipeline(folder: folder, metrics: metrics)
    let driftActive = metrics.gauge(
      "iak_drift_active", help: "1 while a drift detector is firing for a domain.",
      labels: ["domain", "detector"])

    var days: [(east: String, west: String)] = []
    for day in 0..<6 {
      let before = Set(pipeline.trainer.domains)
      try Self.feed(
        Self.records(day: day, firstOffset: Int64(day) * 24), to: pipeline,
        decodedAhead: decodedAhead)
      let new = Set(pipeline.trainer.domains).subtracting(before).sorted()
      try #require(new.count == 2, "day \(day): \(new)")
      days.append((new[0], new[1]))
      #expect(new[0].hasSuffix("/east") && new[1].hasSuffix("/west"))
      // The new domains are not published yet, so they stay; older ones go down to the limit.
      #expect(pipeline.trainer.domainCount == min(3, 2 * (day + 1)), "day \(day)")
      if day == 0 { driftActive.with(days[0].east, "harm").set(1) }
      try pipeline.checkpoint(createdAtMilliseconds: Int64(day))
    }
    driftActive.with(days[5].east, "harm").set(1)
    // Retired: day 0 east at day 1, then two a day, least recently seen (east before west).
    let kept = [days[4].west, days[5].east, days[5].west]
    #expect(pipeline.trainer.domains == kept)
    #expect(Set(pipeline.drift.domains).isSubset(of: kept))
    #expect(Set(pipeline.book.kernelVersions.keys).isSubset(of: kept))
    let rendered = metrics.render()
    #expect(rendered.contains("iak_domains_retired_total 9\n"), "\(rendered)")
    #expect(rendered.contains("iak_router_domains 3\n"), "\(rendered)")
    // The retired domain's drift gauge is gone; a held domain's stays.
    #expect(!rendered.contains("domain=\"\(days[0].east)\""), "\(rendered)")
    #expect(rendered.contains("iak_drift_active{domain=\"\(days[5].east)\",detector=\"harm\"} 1"))

    // The newest snapshot holds the kept domains only; every kernel stays published.
    let view = SnapshotView(
      try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot))
    #expect(view.domains == kept)
    #expect(view.domainStats.keys.sorted() == kept)
    for day in days {
      for domain in [day.east, day.west] {
        #expect(FileManager.default.fileExists(atPath: "\(folder)/published/\(domain).safetensors"))
      }
    }

    // A late example for a retired domain starts it anew; with its batch open and unpublished
    // it cannot go, so the least recently seen published domain makes room.
    let late = Self.records(day: 0, firstOffset: 1000)[0]
    try Self.feed([late], to: pipeline, decodedAhead: decodedAhead)
    #expect(pipeline.trainer.domains == [days[0].east, days[5].east, days[5].west])
    #expect(pipeline.trainer.pendingExamples(for: days[0].east).count == 1)
    #expect(pipeline.trainer.evaluation(for: days[0].east)?.adapted.count == 0)
    let after = metrics.render()
    #expect(after.contains("iak_router_domains 3\n") && after.contains("retired_total 10\n"))
  }

  /// A retired domain that comes back numbers its kernels on from its last version, not from 1:
  /// in the process that retired it, after a restart from its snapshot, and in another process
  /// that took its partition over; so a (domain, version) pair names one set of weights.
  @Test func aRetiredDomainThatComesBackNumbersOnFromItsLastVersion() throws {
    let folder =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-retired-versions-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let (pipeline, _) = try Self.pipeline(folder: folder, metrics: MetricsRegistry())
    var firstEast = ""
    for day in 0..<4 {
      try pipeline.process(Self.records(day: day, firstOffset: Int64(day) * 24))
      if day == 0 {
        firstEast = try #require(pipeline.trainer.domains.first { $0.hasSuffix("/east") })
      }
      try pipeline.checkpoint(createdAtMilliseconds: Int64(day))
    }
    #expect(!pipeline.trainer.domains.contains(firstEast))
    let retiredAt = try #require(
      try Self.publishedVersion(of: firstEast, in: folder + "/published"))
    #expect(retiredAt >= 1)
    #expect(pipeline.book.retired[firstEast] == RetiredVersion(version: retiredAt, lane: 0))

    // Four late examples of that domain: one batch, so the kernel changes and gets a version.
    let late = Self.records(day: 0, firstOffset: 1000).enumerated().filter { $0.offset % 2 == 0 }
      .prefix(4).map {
        var record = $0.element
        record.offset = 96 + Int64($0.offset)
        return record
      }
    // The same four, fed to a pipeline restored from the last snapshot and to one that took
    // partition 0's state over.
    try FileManager.default.createDirectory(
      atPath: folder + "/restored", withIntermediateDirectories: true)
    try FileManager.default.copyItem(atPath: folder + "/store", toPath: folder + "/restored/store")
    let (restored, restoredStore) = try Self.pipeline(
      folder: folder + "/restored", metrics: MetricsRegistry())
    try restored.restore(
      try #require(try restoredStore.loadNewestValid(expectingBackbone: nil).snapshot))
    let handedOver = try PartitionState(
      bytes: try #require(
        pipeline.partitionState(
          of: TopicPartition(topic: "events", partition: 0), createdAtMilliseconds: 9)
      ).encoded())
    #expect(handedOver.book.retired[firstEast]?.version == retiredAt)
    let otherFolder = folder + "/other"
    let (other, _) = try Self.pipeline(folder: otherFolder, metrics: MetricsRegistry())
    try other.adopt(handedOver)

    for (name, candidate, published) in [
      ("same process", pipeline, folder + "/published"),
      ("restored", restored, folder + "/restored/published"),
      ("handed over", other, otherFolder + "/published"),
    ] {
      try candidate.process(late)
      #expect(candidate.trainer.domains.contains(firstEast), "\(name)")
      try candidate.checkpoint(createdAtMilliseconds: 10)
      #expect(
        try Self.publishedVersion(of: firstEast, in: published) == retiredAt + 1, "\(name)")
      #expect(candidate.book.kernelVersions[firstEast] == retiredAt + 1, "\(name)")
      #expect(candidate.book.retired[firstEast] == nil, "\(name)")
    }
  }

  /// With `event.max_past = 2d`, a checkpoint drops from the book (and its snapshot) the
  /// retired versions of days no event of their partition can reach any more, leaving the
  /// floor that stands for them; a dropped domain that comes back all the same (through a
  /// partition whose clock is days behind) numbers on above every dropped version.
  @Test func retiredVersionsOutOfReachLeaveTheBookAndAFloorStandsForThem() throws {
    let folder =
      FileManager.default.temporaryDirectory
      .appendingPathComponent("iak-retired-floor-\(UUID().uuidString)").path
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let metrics = MetricsRegistry()
    let (pipeline, store) = try Self.pipeline(
      folder: folder, metrics: metrics, extraSettings: ["event.max_past=2d"])
    var days: [[String]] = []
    let published = folder + "/published"
    var day0Version = 0
    var dayOneEastVersion: Int?
    for day in 0..<6 {
      let before = Set(pipeline.trainer.domains)
      let records = Self.records(day: day, firstOffset: Int64(day) * 24)
      // Day 0 in two halves with a checkpoint between: its kernels reach version 2.
      for half in day == 0 ? [records[..<12], records[12...]] : [records[...]] {
        try pipeline.process(Array(half))
        try pipeline.checkpoint(createdAtMilliseconds: Int64(day))
      }
      days.append(Set(pipeline.trainer.domains).subtracting(before).sorted())
      if day == 0 {
        day0Version = try #require(try Self.publishedVersion(of: days[0][0], in: published))
      }
      if day == 1 { dayOneEastVersion = try Self.publishedVersion(of: days[1][0], in: published) }
    }
    #expect(day0Version == 2)
    #expect(dayOneEastVersion == 1)
    // Out of reach, out of the serving folder too (and their windows' folders, left empty);
    // retired domains within reach keep their files.
    for domain in days[0] + days[1] + days[2] {
      #expect(!FileManager.default.fileExists(atPath: "\(published)/\(domain).safetensors"))
    }
    let windows = try FileManager.default.contentsOfDirectory(atPath: published).sorted()
    #expect(windows.count == 3, "\(windows)")
    for domain in days[3] + days[4] + days[5] {
      #expect(FileManager.default.fileExists(atPath: "\(published)/\(domain).safetensors"))
    }
    // The lane's clock is day 5 00:23: days 0-2 ended more than two days before it. Day 3's
    // domains and day 4's east stay (retired, within reach); the others are held.
    #expect(pipeline.book.retired.keys.sorted() == (days[3] + [days[4][0]]).sorted())
    let dayTwoStart: Int64 = 883_612_800_000 + 2 * 86_400_000
    #expect(
      pipeline.book.retiredFloor
        == RetiredFloor(version: day0Version, windowStartMilliseconds: dayTwoStart))
    #expect(metrics.render().contains("iak_domains_retired_held 3\n"))

    // The snapshot holds the same book: a restart reads the floor back.
    let (restored, _) = try Self.pipeline(
      folder: folder + "/restored", metrics: MetricsRegistry(),
      extraSettings: ["event.max_past=2d"])
    try restored.restore(try #require(try store.loadNewestValid(expectingBackbone: nil).snapshot))
    #expect(restored.book == pipeline.book)

    // Day 1's east again, on partition 1 (whose clock starts there): its entry is gone, and it
    // numbers on above the floor (3), not from 1 nor from its own last version (1).
    let dayOneEast = days[1][0]
    let back = Self.records(day: 1, firstOffset: 0).enumerated().filter { $0.offset % 2 == 0 }
      .prefix(4).map {
        var record = $0.element
        record.partition = 1
        return record
      }
    for candidate in [pipeline, restored] {
      try candidate.process(back)
      #expect(candidate.trainer.domains.contains(dayOneEast))
      try candidate.checkpoint(createdAtMilliseconds: 10)
      #expect(candidate.book.kernelVersions[dayOneEast] == day0Version + 1)
    }
    #expect(try Self.publishedVersion(of: dayOneEast, in: published) == day0Version + 1)
  }
}

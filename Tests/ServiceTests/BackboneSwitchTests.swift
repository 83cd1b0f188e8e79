import Base
import Checkpoint
import Foundation
import Learner
import Observability
import Stream
import Testing

@testable import Service

/// A backbone switch carried on the input (`iak-stream upgrade`, `ControlRecord`): each
/// partition waits at its switch record until every held partition has reached its own; then
/// the pipeline holds what one started empty on the new backbone at those records would hold,
/// byte for byte, with the offsets and counts going on. A switch that fails leaves the old
/// backbone, and a start after a switch loads the backbone its snapshot names.
@Suite struct BackboneSwitchTests {
  static let config = BackboneConfig(fields: ["user", "item"], buckets: 512, hiddenSizes: [16, 8])

  /// Good events with split clicks over three partitions, in input order.
  static func records(count: Int = 400) -> [Record] {
    var next: [Int64] = [0, 0, 0]
    return HostileInputTests.goodLines(count: count).enumerated().map { index, line in
      let partition = index % 3
      defer { next[partition] += 1 }
      return Record(
        topic: "events", partition: Int32(partition), offset: next[partition], value: line)
    }
  }

  /// `records` with a switch record put into each partition after its first record at or after
  /// input position `after[partition]`; the records that follow in that partition move up one
  /// offset, as they would on a topic.
  static func withSwitch(_ records: [Record], after: [Int], to control: ControlRecord) -> [Record] {
    var shift: [Int32: Int64] = [:]
    var result: [Record] = []
    for (index, record) in records.enumerated() {
      var moved = record
      moved.offset += shift[record.partition, default: 0]
      result.append(moved)
      if shift[record.partition] == nil && index >= after[Int(record.partition)] {
        result.append(
          Record(
            topic: record.topic, partition: record.partition, offset: moved.offset + 1,
            value: Array(control.jsonLine.utf8)))
        shift[record.partition] = 1
      }
    }
    return result
  }

  /// Good events keyed by region over three partitions, as `produce` keys them: impression i
  /// is in region `r<i % 3>` and partition i % 3, and a click follows its impression.
  static func regionKeyedRecords(count: Int = 400) -> [Record] {
    var next: [Int64] = [0, 0, 0]
    var partitionOf: [String: Int32] = [:]
    var impressions = 0
    return HostileInputTests.goodLines(count: count).map { bytes in
      var line = String(decoding: bytes, as: UTF8.self)
      let id = String(line.split(separator: "\"")[7])
      let partition: Int32
      if line.contains("\"impression\"") {
        partition = Int32(impressions % 3)
        impressions += 1
        partitionOf[id] = partition
        line = line.replacingOccurrences(of: "\"east\"", with: "\"r\(partition)\"")
          .replacingOccurrences(of: "\"west\"", with: "\"r\(partition)\"")
      } else {
        partition = partitionOf[id] ?? 0
      }
      defer { next[Int(partition)] += 1 }
      return Record(
        topic: "events", partition: partition, offset: next[Int(partition)],
        value: Array(line.utf8))
    }
  }

  /// What a pipeline that switches reads after the switch, in the order it processes it: each
  /// partition's records after its switch record wait until every partition has reached its
  /// own, then go partition by partition; then the rest in input order.
  static func afterTheSwitch(_ records: [Record]) -> [Record] {
    var met: Set<Int32> = []
    var held: [Int32: [Record]] = [:]
    var result: [Record] = []
    for record in records {
      if ControlRecord.isControl(record.value) {
        met.insert(record.partition)
        if met.count == 3 {
          for partition in held.keys.sorted() { result += held[partition]! }
          held = [:]
        }
        continue
      }
      guard met.contains(record.partition) else { continue }
      if met.count < 3 {
        held[record.partition, default: []].append(record)
      } else {
        result.append(record)
      }
    }
    return result
  }

  /// Asks `pipeline` to switch until it has switched to `sha` (its re-base reads the windows in
  /// the background, as under `serve`, whose training loop asks every 100 ms): 30 s at most.
  static func waitForTheSwitch(_ pipeline: Pipeline, to sha: String) async throws {
    let deadline = ContinuousClock.now + .seconds(30)
    while pipeline.backboneSHA256 != sha && ContinuousClock.now < deadline {
      try await Task.sleep(for: .milliseconds(10))
      try pipeline.switchBackboneIfReady()
    }
    try #require(pipeline.backboneSHA256 == sha)
  }

  static func pipeline(_ backbone: Backbone, sha: String, metrics: MetricsRegistry? = nil) throws
    -> Pipeline
  {
    try Pipeline(
      configuration: try HostileInputTests.configuration(), backbone: backbone,
      backboneSHA256: sha, store: nil, publisher: nil, alertEmitter: nil, deadLetters: nil,
      logger: .disabled, metrics: metrics)
  }

  /// The state tensors as bytes, without the counts (a switch keeps counting).
  static func stateWithoutCounts(_ pipeline: Pipeline) -> [UInt8] {
    SafeTensors(
      tensors: pipeline.stateTensors().filter { !$0.key.hasPrefix(".pipeline/") }
    ).encoded()
  }

  let old = try! Backbone(config: BackboneSwitchTests.config, seed: 3)
  let new = try! Backbone(config: BackboneSwitchTests.config, seed: 4)
  var newSHA: String { new.weightsSHA256 }
  var control: ControlRecord { ControlRecord(switchingTo: newSHA, directory: "/shared/new") }

  /// What a pipeline that switches reads before the switch, in order: each partition's records
  /// before its switch record, until every partition has reached its own.
  static func beforeTheSwitch(_ records: [Record]) -> [Record] {
    var met: Set<Int32> = []
    var result: [Record] = []
    for record in records {
      if ControlRecord.isControl(record.value) {
        met.insert(record.partition)
        if met.count == 3 { break }
        continue
      }
      if !met.contains(record.partition) { result.append(record) }
    }
    return result
  }

  @Test func aSwitchStartsEveryKernelFromZeroOnTheNewBackboneAndKeepsWaitingImpressions()
    throws
  {
    let plain = Self.records()
    let records = Self.withSwitch(plain, after: [30, 130, 251], to: control)
    let metrics = MetricsRegistry()
    let switching = try Self.pipeline(old, sha: "old", metrics: metrics)
    let new = new
    switching.backboneLoader = { _ in new }
    // Up to partition 1's switch record: partition 0 waits at its own, the others go on.
    let firstSwitch = records.firstIndex { ControlRecord.isControl($0.value) }!
    let secondSwitch = records[(firstSwitch + 1)...].firstIndex {
      ControlRecord.isControl($0.value)
    }!
    try switching.process(Array(records[...secondSwitch]))
    let waitingAt = records[firstSwitch].offset
    #expect(switching.offsets[TopicPartition(topic: "events", partition: 0)] == waitingAt)
    #expect(
      switching.offsets[TopicPartition(topic: "events", partition: 1)]
        == records[secondSwitch].offset)
    #expect(switching.backboneSHA256 == "old")
    let oldDomains = switching.trainer.domains
    #expect(!oldDomains.isEmpty)
    for start in stride(from: secondSwitch + 1, to: records.count, by: 50) {
      try switching.process(Array(records[start..<min(start + 50, records.count)]))
    }
    #expect(switching.backboneSHA256 == newSHA)
    #expect(switching.backbone == new)
    #expect(switching.counts.records == records.count)
    var ends: [TopicPartition: Int64] = [:]
    for record in records { ends[record.topicPartition] = record.offset + 1 }
    #expect(switching.offsets == ends)
    #expect(metrics.render().contains("iak_backbone_switches_total 1"))

    // Its state: a pipeline started empty on the new backbone at the switch records, with each
    // partition's impressions then waiting for their labels, its router share and its clock.
    let before = try Self.pipeline(old, sha: "old")
    try before.process(Self.beforeTheSwitch(records))
    let fresh = try Self.pipeline(new, sha: newSHA)
    for partition in before.heldPartitions {
      try fresh.adopt(try #require(before.carriedState(of: partition, to: newSHA)))
    }
    let after = Self.afterTheSwitch(records)
    #expect(after.count > 100)
    try fresh.process(after)
    #expect(fresh.counts.examples > 50)
    #expect(Self.stateWithoutCounts(switching) == Self.stateWithoutCounts(fresh))
    // No impression is lost at the switch: as many examples as a run that never switched.
    let never = try Self.pipeline(old, sha: "old")
    try never.process(plain)
    #expect(switching.counts.examples == never.counts.examples)
    let started = try Self.pipeline(new, sha: newSHA)
    try started.process(after)
    #expect(started.counts.examples < never.counts.examples - before.counts.examples)
    // The old domains are retired: their kernels number on if they come back.
    for domain in oldDomains where !switching.trainer.domains.contains(domain) {
      #expect(switching.book.kernelVersions[domain] == nil)
    }
  }

  @Test func aReBaseGivesTheStateOfAPipelineThatReadTheWindowsOnTheNewBackbone() throws {
    let plain = Self.records()
    // Partition p's window starts at its offset 10 * (p + 1).
    var records: [Record] = []
    for record in Self.withSwitch(plain, after: [150, 160, 200], to: control) {
      guard ControlRecord.isControl(record.value) else {
        records.append(record)
        continue
      }
      let windowed = ControlRecord(
        switchingTo: newSHA, directory: "/shared/new", rebaseFrom: 10 * Int64(record.partition + 1))
      records.append(
        Record(
          topic: record.topic, partition: record.partition, offset: record.offset,
          value: Array(windowed.jsonLine.utf8)))
    }
    let new = new
    let metrics = MetricsRegistry()
    let switching = try Self.pipeline(old, sha: "old", metrics: metrics)
    switching.backboneLoader = { _ in new }
    let topic = records
    switching.history = { partition, from, until in
      topic.filter { $0.topicPartition == partition && $0.offset >= from && $0.offset < until }
    }
    for start in stride(from: 0, to: records.count, by: 64) {
      try switching.process(Array(records[start..<min(start + 64, records.count)]))
    }
    #expect(switching.backboneSHA256 == newSHA)
    #expect(switching.counts.records == records.count)

    // The windows, partition by partition, then what came after the switch records.
    var windows: [Record] = []
    for partition: Int32 in 0..<3 {
      let switchAt = records.first {
        $0.partition == partition && ControlRecord.isControl($0.value)
      }!.offset
      windows += records.filter {
        $0.partition == partition && $0.offset >= 10 * Int64(partition + 1)
          && $0.offset < switchAt
      }
    }
    #expect(windows.count > 100)
    #expect(metrics.render().contains("iak_backbone_rebase_records_total \(windows.count)"))
    let fresh = try Self.pipeline(new, sha: newSHA)
    try fresh.process(windows + Self.afterTheSwitch(records))
    #expect(Self.stateWithoutCounts(switching) == Self.stateWithoutCounts(fresh))
    // Not what a start from zero at the switch gives.
    let zero = try Self.pipeline(new, sha: newSHA)
    try zero.process(Self.afterTheSwitch(records))
    #expect(Self.stateWithoutCounts(switching) != Self.stateWithoutCounts(zero))

    // Without a way to read the input again, the switch fails and the old backbone goes on.
    let unreadable = try Self.pipeline(old, sha: "old")
    unreadable.backboneLoader = { _ in new }
    try unreadable.process(records)
    #expect(unreadable.backboneSHA256 == "old")
  }

  /// `withSwitch` with each partition's window starting at its offset 10 * (partition + 1).
  func withWindows(_ plain: [Record], after: [Int]) -> [Record] {
    Self.withSwitch(plain, after: after, to: control).map { record in
      guard ControlRecord.isControl(record.value) else { return record }
      let windowed = ControlRecord(
        switchingTo: newSHA, directory: "/shared/new",
        rebaseFrom: 10 * Int64(record.partition + 1))
      var copy = record
      copy.value = Array(windowed.jsonLine.utf8)
      return copy
    }
  }

  /// A pipeline on the old backbone that switches to the new one, reading windows from
  /// `records`, and reads `partitions`.
  func switchingPipeline(
    _ records: [Record], reading partitions: [Int32], metrics: MetricsRegistry? = nil
  ) throws -> Pipeline {
    let pipeline = try Self.pipeline(old, sha: "old", metrics: metrics)
    pipeline.backboneDirectory = "/shared/old"
    let (old, new) = (old, new)
    pipeline.backboneLoader = { $0.backboneSHA256 == "old" ? old : new }
    pipeline.history = { partition, from, until in
      records.filter { $0.topicPartition == partition && $0.offset >= from && $0.offset < until }
    }
    let read = partitions.map { TopicPartition(topic: "events", partition: $0) }
    pipeline.inputPartitions = { read }
    return pipeline
  }

  /// The tensors in which `partition`'s state differs between `a` and `b`, leaving out the
  /// counts and the trainer's header (its clock is the latest event time of every partition it
  /// holds, not the partition's).
  static func partitionDifferences(_ a: Pipeline, _ b: Pipeline, _ partition: Int32) -> [String] {
    func tensors(_ pipeline: Pipeline) -> [String: Tensor] {
      let state = pipeline.partitionState(
        of: TopicPartition(topic: "events", partition: partition), createdAtMilliseconds: 0)
      return (state?.tensors ?? [:]).filter {
        !$0.key.hasPrefix(".pipeline/") && $0.key != ".trainer/state"
          && !$0.key.hasPrefix(KeptBackbone.tensorPrefix)
      }
    }
    let (left, right) = (tensors(a), tensors(b))
    if left.isEmpty { return ["no state"] }
    return Set(left.keys).union(right.keys).filter { left[$0]?.bytes != right[$0]?.bytes }.sorted()
  }

  @Test(arguments: [false, true], [false, true])
  func aPartitionHandedOverAcrossASwitchEndsAsInOneProcess(
    fromTheSwitchedMember: Bool, withWindows windowed: Bool
  ) throws {
    // Handed from the member that switched first to one still waiting, or from a member still
    // on the old backbone to one that switched; with re-base windows, or with kernels from zero
    // and the waiting impressions carried over.
    let after = fromTheSwitchedMember ? [150, 160, 200] : [150, 181, 20]
    let records =
      windowed
      ? withWindows(Self.regionKeyedRecords(), after: after)
      : Self.withSwitch(Self.regionKeyedRecords(), after: after, to: control)
    let whole = try switchingPipeline(records, reading: [0, 1, 2])
    try whole.process(records)
    #expect(whole.backboneSHA256 == newSHA)

    let first = try switchingPipeline(records, reading: [0, 1])
    let second = try switchingPipeline(records, reading: [2])
    let handOverAt = fromTheSwitchedMember ? 175 : 155
    var owner: [Int32: Pipeline] = [0: first, 1: first, 2: second]
    for (index, record) in records.enumerated() {
      if index == handOverAt {
        let moving = TopicPartition(topic: "events", partition: 1)
        let state = try #require(first.partitionState(of: moving, createdAtMilliseconds: 0))
        #expect(
          state.backboneSHA256 == (fromTheSwitchedMember ? newSHA : "old"),
          "the member handing over has switched or not, as the scenario says")
        #expect(second.backboneSHA256 == (fromTheSwitchedMember ? "old" : newSHA))
        first.release(moving)
        let firstReads = [TopicPartition(topic: "events", partition: 0)]
        first.inputPartitions = { firstReads }
        let secondReads = [1, 2].map { TopicPartition(topic: "events", partition: Int32($0)) }
        second.inputPartitions = { secondReads }
        try second.adopt(state)
        owner[1] = second
      }
      try owner[record.partition]!.process([record])
    }
    #expect(first.backboneSHA256 == newSHA)
    #expect(second.backboneSHA256 == newSHA)
    #expect(Self.partitionDifferences(first, whole, 0) == [])
    #expect(Self.partitionDifferences(second, whole, 1) == [])
    #expect(Self.partitionDifferences(second, whole, 2) == [])
    #expect(second.offsets == whole.offsets.filter { $0.key.partition != 0 })
    // Counted as in one process, whichever member read what.
    func counts(_ pipeline: Pipeline, _ partition: Int32) -> [String: [UInt8]] {
      (pipeline.partitionState(
        of: TopicPartition(topic: "events", partition: partition), createdAtMilliseconds: 0
      )?.tensors ?? [:]).filter { $0.key.hasPrefix(".pipeline/") }.mapValues(\.bytes)
    }
    for partition in Int32(1)...2 {
      #expect(!counts(whole, partition).isEmpty)
      #expect(counts(second, partition) == counts(whole, partition))
    }
    #expect(first.offsets == whole.offsets.filter { $0.key.partition == 0 })
  }

  /// `records` with a control of `action` to the new backbone put into each partition after its
  /// first record at or after `after[partition]`, its window starting at 10 * (partition + 1).
  func withControls(_ records: [Record], after: [Int], action: ControlRecord.Action) -> [Record] {
    let placeholder = Array(control.jsonLine.utf8)
    return Self.withSwitch(records, after: after, to: control).map { record in
      guard record.value == placeholder else { return record }
      let windowed = ControlRecord(
        switchingTo: newSHA, directory: "/shared/new",
        rebaseFrom: 10 * Int64(record.partition + 1), action: action)
      var copy = record
      copy.value = Array(windowed.jsonLine.utf8)
      return copy
    }
  }

  @Test func aReBaseInTheBackgroundEndsWhereOneAtTheSwitchDoes() async throws {
    let announced = withControls(
      Self.regionKeyedRecords(), after: [60, 61, 62], action: .backbonePrepare)
    let records = withControls(announced, after: [300, 301, 302], action: .backboneSwitch)
    let firstSwitch = records.firstIndex {
      ControlRecord.isControl($0.value)
        && (try? ControlRecord(parsing: $0.value))?.action
          == .backboneSwitch
    }!
    let atTheSwitch = try switchingPipeline(records, reading: [0, 1, 2])
    try atTheSwitch.process(records)

    let metrics = MetricsRegistry()
    let background = try switchingPipeline(records, reading: [0, 1, 2], metrics: metrics)
    background.rebasesInBackground = true
    try background.process(Array(records[..<firstSwitch]))
    #expect(background.backboneSHA256 == "old", "it goes on with the old backbone meanwhile")
    // Let the background re-base catch up with the live position.
    let deadline = ContinuousClock.now + .seconds(30)
    func partitionsShown() -> Int {
      metrics.render().split(separator: "\n").count {
        $0.hasPrefix("iak_backbone_rebase_lag_records{")
      }
    }
    let rebase = try #require(background.backgroundRebase)
    #expect(rebase.windows.count == 3)
    while ContinuousClock.now < deadline && !rebase.isCaughtUp {
      try await Task.sleep(for: .milliseconds(20))
    }
    #expect(rebase.isCaughtUp)
    #expect(partitionsShown() == 3)
    try background.process(Array(records[firstSwitch...]))
    try await Self.waitForTheSwitch(background, to: newSHA)
    #expect(
      SafeTensors(tensors: background.stateTensors()).encoded()
        == SafeTensors(tensors: atTheSwitch.stateTensors()).encoded())
    // The switch read only what came after the background's position.
    let readAtTheSwitch = ServeProcess.value(
      of: "iak_backbone_rebase_records_total", in: metrics.render())
    #expect(readAtTheSwitch < 20, "read \(readAtTheSwitch) records at the switch")
    // Switched: no partition lags behind a re-base any more.
    #expect(partitionsShown() == 0)
  }

  @Test func aSwitchNotAnnouncedReBasesInTheBackgroundWhileThePartitionsWait() async throws {
    let records = withControls(
      Self.regionKeyedRecords(), after: [300, 301, 302], action: .backboneSwitch)
    let atTheSwitch = try switchingPipeline(records, reading: [0, 1, 2])
    try atTheSwitch.process(records)
    #expect(atTheSwitch.backboneSHA256 == newSHA)
    let background = try switchingPipeline(records, reading: [0, 1, 2])
    background.rebasesInBackground = true
    // The call returns with every partition at its switch record and the re-base under way;
    // what came after the records is held.
    try background.process(records)
    #expect(background.backboneSHA256 == "old")
    #expect(background.backgroundRebase != nil)
    #expect(background.offsets.count == 3)
    for (partition, offset) in background.offsets {
      #expect(
        records.first { $0.topicPartition == partition && $0.offset == offset }
          .map { ControlRecord.isControl($0.value) } == true)
    }
    try await Self.waitForTheSwitch(background, to: newSHA)
    #expect(
      SafeTensors(tensors: background.stateTensors()).encoded()
        == SafeTensors(tensors: atTheSwitch.stateTensors()).encoded())
  }

  /// Under serve's training loop, a switch waiting for its re-base holds what comes after the
  /// switch records only up to the queue's capacity: then the loop takes no more records (the
  /// consumer would pause), and takes them again once the switch is made.
  @Test func whileASwitchWaitsForItsReBaseTheLoopHoldsOnlyAQueueOfRecords() async throws {
    let records = withControls(
      Self.regionKeyedRecords(), after: [100, 101, 102], action: .backboneSwitch)
    let atTheSwitch = try switchingPipeline(records, reading: [0, 1, 2])
    try atTheSwitch.process(records)
    let pipeline = try switchingPipeline(records, reading: [0, 1, 2])
    pipeline.rebasesInBackground = true
    // The re-base cannot read its windows until the gate opens.
    let gate = DispatchSemaphore(value: 0)
    pipeline.history = { partition, from, until in
      gate.wait()
      gate.signal()
      return records.filter {
        $0.topicPartition == partition && $0.offset >= from && $0.offset < until
      }
    }
    let queue = RecordQueue(capacity: 20)
    let loop = TrainingLoop(
      pipeline: pipeline, source: try FileRecordSource(bytes: [], topic: "events"), queue: queue,
      metrics: ServeMetrics(MetricsRegistry()), interval: .events(1_000_000), logger: .disabled)
    let thread = Thread { loop.run() }
    thread.start()
    let decoder = pipeline.decoder
    for start in stride(from: 0, to: records.count, by: 10) {
      queue.append(
        records[start..<min(start + 10, records.count)].map { decoder.decodeAhead($0) },
        arrivedAt: .now)
    }
    // The loop takes records until every partition waits and a queue's worth is held.
    try await Task.sleep(for: .seconds(2))
    let waiting = queue.count
    #expect(waiting > 0, "the loop took every record while the switch waited")
    try await Task.sleep(for: .milliseconds(500))
    #expect(queue.count == waiting, "it took more records while the switch waited")
    gate.signal()
    let deadline = ContinuousClock.now + .seconds(30)
    while queue.count > 0 && ContinuousClock.now < deadline {
      try await Task.sleep(for: .milliseconds(20))
    }
    queue.submit(ServeRequest(.stop))
    #expect(loop.waitUntilEnded(timeout: .seconds(30)))
    #expect(pipeline.backboneSHA256 == newSHA)
    #expect(pipeline.counts.records == records.count)
    #expect(
      SafeTensors(tensors: pipeline.stateTensors()).encoded()
        == SafeTensors(tensors: atTheSwitch.stateTensors()).encoded())
  }

  @Test func anAbandonedAnnouncementStopsTheBackgroundReBaseAndSwitchesNothing() throws {
    let announced = withControls(
      Self.regionKeyedRecords(), after: [60, 61, 62], action: .backbonePrepare)
    let records = withControls(announced, after: [200, 201, 202], action: .backboneAbandon)
    let pipeline = try switchingPipeline(records, reading: [0, 1, 2])
    pipeline.rebasesInBackground = true
    let firstAbandon = records.firstIndex {
      (try? ControlRecord(parsing: $0.value))?.action == .backboneAbandon
    }!
    try pipeline.process(Array(records[..<firstAbandon]))
    #expect(pipeline.backgroundRebase != nil)
    try pipeline.process(Array(records[firstAbandon...]))
    #expect(pipeline.backgroundRebase == nil)
    #expect(pipeline.backboneSHA256 == "old")
    #expect(pipeline.counts.records == records.count)
    let plain = try Self.pipeline(old, sha: "old")
    try plain.process(records.filter { !ControlRecord.isControl($0.value) })
    #expect(Self.stateWithoutCounts(pipeline) == Self.stateWithoutCounts(plain))
  }

  /// A member started on the new backbone (a restart after its switch) takes a partition over
  /// from one still on the old backbone, and reads it decoded ahead, its serving inputs
  /// prepared with the new backbone: the partition goes on on the old backbone with the old
  /// backbone's scores, and ends as in one process.
  @Test func aPartitionTakenOverLateAndDecodedAheadEndsAsInOneProcess() throws {
    let records = Self.withSwitch(Self.regionKeyedRecords(), after: [150, 181, 20], to: control)
    let whole = try switchingPipeline(records, reading: [0, 1, 2])
    try whole.process(records)
    let moving = TopicPartition(topic: "events", partition: 1)
    let first = try switchingPipeline(records, reading: [0, 1])
    try first.process(records[..<155].filter { $0.partition != 2 })
    #expect(first.backboneSHA256 == "old")
    let state = try #require(first.partitionState(of: moving, createdAtMilliseconds: 0))
    let second = try Self.pipeline(new, sha: newSHA)
    second.previousBackbones = ["old"]
    let (old, new) = (old, new)
    second.backboneLoader = { $0.backboneSHA256 == "old" ? old : new }
    second.inputPartitions = { [moving] }
    try second.adopt(state)
    let decoder = second.decoder
    let prepare = second.makeServingInputs()
    let rest = records[155...].filter { $0.partition == 1 }
    for start in stride(from: 0, to: rest.count, by: 7) {
      try second.process(
        PipelineDecodeAheadTests.decodedAhead(
          Array(rest[start..<min(start + 7, rest.count)]), decoder: decoder, prepare: prepare))
    }
    #expect(Self.partitionDifferences(second, whole, 1) == [])
  }

  /// A partition taken over late whose backbone cannot be loaded on the member: its records up
  /// to its switch record are skipped, but the versions its kernels were published under stay
  /// retired, so that a domain coming back numbers on from them.
  @Test func aLatePartitionWhoseBackboneCannotBeLoadedKeepsItsRetiredVersions() throws {
    let records = Self.withSwitch(Self.regionKeyedRecords(), after: [150, 181, 20], to: control)
    let moving = TopicPartition(topic: "events", partition: 1)
    let folder = try TemporaryFolder.make("iak-late-book")
    defer { try? FileManager.default.removeItem(atPath: folder) }
    let first = try Pipeline(
      configuration: try HostileInputTests.configuration(), backbone: old, backboneSHA256: "old",
      store: try SnapshotStore(directory: folder, keep: 2), publisher: nil, alertEmitter: nil,
      deadLetters: nil, logger: .disabled, metrics: nil)
    first.backboneDirectory = "/shared/old"
    try first.process(records[..<155].filter { $0.partition == 1 })
    try first.checkpoint(createdAtMilliseconds: 0)
    let state = try #require(first.partitionState(of: moving, createdAtMilliseconds: 0))
    try #require(!state.book.kernelVersions.isEmpty)
    let second = try Self.pipeline(new, sha: newSHA)
    second.previousBackbones = ["old"]
    let new = new
    second.backboneLoader = { control in
      guard control.backboneSHA256 != "old" else {
        throw ServiceError(.io, "no such folder: \(control.backboneDirectory)")
      }
      return new
    }
    second.inputPartitions = { [moving] }
    try second.adopt(state)
    try second.process(records[155...].filter { $0.partition == 1 })
    #expect(second.offsets[moving] != nil)
    for (domain, version) in state.book.kernelVersions {
      #expect(second.book.retired[domain]?.version == version, "\(domain)")
    }
  }

  @Test func decodingAheadAcrossASwitchMatchesProcessingTheRecords() throws {
    let records = Self.withSwitch(Self.records(), after: [60, 61, 200], to: control)
    let new = new
    let inPlace = try Self.pipeline(old, sha: "old")
    inPlace.backboneLoader = { _ in new }
    try inPlace.process(records)
    let ahead = try Self.pipeline(old, sha: "old")
    ahead.backboneLoader = { _ in new }
    let decoder = ahead.decoder
    let prepare = ahead.makeServingInputs()
    var controls = 0
    // Each chunk is decoded and prepared on another thread before the pipeline takes it, so
    // the chunk holding the last switch record was prepared with the old backbone after it.
    for start in stride(from: 0, to: records.count, by: 41) {
      let decoded = PipelineDecodeAheadTests.decodedAhead(
        Array(records[start..<min(start + 41, records.count)]), decoder: decoder, prepare: prepare)
      controls += decoded.count {
        if case .control = $0.outcome { true } else { false }
      }
      try ahead.process(decoded)
    }
    #expect(controls == 3)
    #expect(ahead.backboneSHA256 == newSHA)
    #expect(ahead.counts == inPlace.counts)
    #expect(ahead.offsets == inPlace.offsets)
    #expect(
      SafeTensors(tensors: ahead.stateTensors()).encoded()
        == SafeTensors(tensors: inPlace.stateTensors()).encoded())
  }

  @Test func aSwitchThatFailsLeavesTheOldBackboneAsIfTheRecordsWereNotThere() throws {
    let plain = Self.records()
    let records = Self.withSwitch(plain, after: [9, 19, 29], to: control)
    let metrics = MetricsRegistry()
    let failing = try Self.pipeline(old, sha: "old", metrics: metrics)
    failing.backboneLoader = { _ in throw ServiceError(.io, "no such folder") }
    try failing.process(records)
    #expect(failing.backboneSHA256 == "old")
    #expect(metrics.render().contains("iak_backbone_switches_failed_total 1"))
    #expect(failing.counts.records == records.count)
    // The records after the switch records waited, then went in the order a switch releases
    // them: the state is that of the old pipeline reading them in that order.
    var reordered = records.filter { record in
      !ControlRecord.isControl(record.value)
        && !Self.afterTheSwitch(records).contains(record)
    }
    reordered += Self.afterTheSwitch(records)
    let unswitched = try Self.pipeline(old, sha: "old")
    try unswitched.process(reordered)
    #expect(Self.stateWithoutCounts(failing) == Self.stateWithoutCounts(unswitched))
  }

  @Test func aMalformedSwitchRecordIsADeadLetterAndChangesNothing() throws {
    var records = Self.records(count: 60)
    let last = records.count
    records.append(
      Record(
        topic: "events", partition: 0, offset: records.last { $0.partition == 0 }!.offset + 1,
        value: Array(#"{"iak-control":"backbone-switch","backbone_sha256":"abc"}"#.utf8)))
    let metrics = MetricsRegistry()
    let pipeline = try Self.pipeline(old, sha: "old", metrics: metrics)
    try pipeline.process(records)
    #expect(pipeline.counts.rejected == 1)
    #expect(pipeline.counts.records == last + 1)
    #expect(metrics.render().contains(#"iak_events_rejected_total{reason="bad_control"} 1"#))
    #expect(pipeline.backboneSHA256 == "old")
  }

  @Test func aSwitchRecordForTheBackboneInUseIsPassedOver() throws {
    let records = Self.withSwitch(
      Self.records(), after: [9, 19, 29],
      to: ControlRecord(switchingTo: old.weightsSHA256, directory: "/shared/old"))
    let pipeline = try Self.pipeline(old, sha: old.weightsSHA256)
    pipeline.backboneLoader = { _ in
      Issue.record("nothing to load"); return old
    }
    try pipeline.process(records)
    let plain = try Self.pipeline(old, sha: old.weightsSHA256)
    try plain.process(records.filter { !ControlRecord.isControl($0.value) })
    #expect(pipeline.counts.records == records.count)
    #expect(Self.stateWithoutCounts(pipeline) == Self.stateWithoutCounts(plain))
  }

  @Test func serveSwitchesAtTheRecordAndAStartAfterItLoadsTheBackboneItsSnapshotNames() throws {
    let serve = try InProcessServe()
    let newFolder = serve.folder + "/bb-new"
    try TestBackbone.pretrain(
      events: serve.folder + "/pretrain.jsonl", out: newFolder,
      arguments: (HostileInputTests.settings + ["backbone.until=", "backbone.seed=2"]).flatMap {
        ["--set", $0]
      })
    let new = try Backbone.load(from: newFolder)
    let cut = serve.lines.count / 3
    // With a window, not announced: serve re-bases in the background while the partition waits.
    let control = ControlRecord(
      switchingTo: new.weightsSHA256, directory: newFolder, rebaseFrom: Int64(cut / 2))
    let lines = Array(serve.lines[..<cut]) + [control.jsonLine] + Array(serve.lines[cut...])
    func write(upTo count: Int) throws {
      try (lines[..<count].joined(separator: "\n") + "\n").write(
        toFile: serve.input, atomically: true, encoding: .utf8)
    }
    try write(upTo: 2 * lines.count / 3)
    let first = try serve.run()
    #expect(first.status == 0, "\(first.log.suffix(5))")
    #expect(first.lines(containing: "switched the backbone").count == 1)
    #expect(first.lines(containing: "the re-base reads the windows in the background").count == 1)
    let store = try SnapshotStore(directory: serve.store, keep: 100, createIfMissing: false)
    let manifest = try #require(store.listVersions().last?.manifest)
    #expect(manifest.backboneSHA256 == new.weightsSHA256)
    #expect(manifest.extras[Pipeline.backboneDirectoryKey] == newFolder)

    // backbone.dir still names the old backbone: the start takes the snapshot's, and goes on.
    try write(upTo: lines.count)
    let second = try serve.run()
    #expect(second.status == 0, "\(second.log.suffix(5))")
    #expect(
      second.lines(containing: "the newest snapshot was trained on the backbone a switch").count
        == 1)
    #expect(second.lines(containing: "switched the backbone").isEmpty)

    // Its state is that of one replay of the whole input, through the switch.
    let captured = CommandLineToolTests.Captured()
    let status = CommandLineTool.main(
      arguments: [
        "iak-stream", "replay", "--input", serve.input, "--backbone", serve.folder + "/bb",
        "--checkpoint-dir", serve.folder + "/replayed",
      ] + HostileInputTests.settings.flatMap { ["--set", $0] },
      output: { captured.write($0) }, errorOutput: { captured.writeError($0) })
    try #require(status == 0, "\(captured.errors)")
    func state(_ folder: String) throws -> [String: Tensor] {
      let snapshot = try #require(
        try SnapshotStore(directory: folder, keep: 100, createIfMissing: false).loadNewestValid(
          expectingBackbone: nil
        ).snapshot)
      return snapshot.payload.tensors.filter { $0.key != Pipeline.offsetsTensor }
    }
    let served = try state(serve.store)
    let replayed = try state(serve.folder + "/replayed")
    #expect(served.keys.contains { !$0.hasPrefix(".") })
    #expect(served.keys.sorted() == replayed.keys.sorted())
    #expect(SafeTensors(tensors: served).encoded() == SafeTensors(tensors: replayed).encoded())
  }
}

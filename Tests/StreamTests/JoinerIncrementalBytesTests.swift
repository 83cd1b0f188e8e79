import Base
import Observability
import Testing

@testable import Stream

/// A checkpoint serializes a joiner through `serializedState(blocks:)`, which copies the bytes of
/// every waiting impression it wrote the time before and that did not change since. What it
/// writes must be, byte for byte, what serializing the exported state from scratch writes.
@Suite struct JoinerIncrementalBytesTests {
  /// The joiner settings each case runs: `wait` holding clicked impressions for impression order
  /// (their label changes in place while they wait), and the two delayed-feedback modes.
  static let configurations: [LabelJoiner.Configuration] = [
    .init(
      waitMilliseconds: 400, maxOutOfOrdernessMilliseconds: 50, maxPending: 120,
      releasesInImpressionOrder: true),
    .init(waitMilliseconds: 400, maxOutOfOrdernessMilliseconds: 50, mode: .fakeNegative),
    .init(
      waitMilliseconds: 400, maxOutOfOrdernessMilliseconds: 50, maxPending: 150, mode: .esDFM,
      observationWindowMilliseconds: 100),
  ]

  /// Drives `joiner` with seeded impressions and clicks on three partitions, serializing it
  /// every `every` events both ways; returns how many serializations were compared.
  static func compareWhileRunning(
    _ joiner: inout LabelJoiner, seed: UInt64, events: Int, every: Int, start: Int = 0
  ) -> Int {
    var generator = SplitMix64(seed: seed)
    var output: [LabelJoiner.LabelledExample] = []
    var compared = 0
    for index in start..<(start + events) {
      let partition = Int32(index % 3)
      let time = Int64(index * 3)
      // Features that vary: the table (the oldest waiting impression's names) changes as
      // impressions leave, some names are not in it, some values are longer than 127 bytes,
      // and one name comes in two spellings Swift calls equal (composed and decomposed é).
      var categorical: [Event.Feature] = [.init(name: "user", value: "u\(index % 11)")]
      if index % 5 == 0 {
        categorical.append(
          .init(name: "f\(index % 3)", value: String(repeating: "v", count: 120 + index % 20)))
      }
      if index % 7 == 0 {
        categorical.append(.init(name: index % 2 == 0 ? "caf\u{E9}" : "cafe\u{301}", value: "x"))
      }
      joiner.process(
        Event(
          kind: .impression, id: "i\(index)", timeMilliseconds: time, region: "r\(partition)",
          categorical: categorical, numeric: index % 4 == 0 ? [:] : ["price": Double(index) / 4]),
        partition: partition,
        score: ServingScore(
          backboneLogit: Float(index), kernelLogit: -Float(index), servesKernel: index % 2 == 0),
        into: &output)
      // Clicks on impressions a few to a few hundred events back (some already labelled, some
      // early: the id is ahead of its impression).
      if Int.random(in: 0..<4, using: &generator) == 0 {
        let target = index + Int.random(in: -150...3, using: &generator)
        joiner.process(
          Event(kind: .click, id: "i\(target)", timeMilliseconds: time + 1),
          partition: Int32(((target % 3) + 3) % 3), into: &output)
      }
      if index % every == every - 1 {
        var blocks: [Int32: [UInt8]] = [:]
        let incremental = joiner.serializedState(blocks: &blocks)
        // Compared as one Bool: a failure names the event, not two arrays of megabytes.
        let same = incremental == joiner.exportState().serialized()
        #expect(same, "after event \(index)")
        // The blocks it kept are each partition's alone, as a hand-over reads them.
        for partition in joiner.exportState().partitions.map(\.partition) {
          let samePartition =
            joiner.serializedState(partition: partition, reusing: blocks)
            == joiner.exportState(partition: partition).serialized()
          #expect(samePartition, "partition \(partition) after event \(index)")
        }
        compared += 1
      }
    }
    return compared
  }

  @Test(arguments: configurations.indices)
  func incrementalBytesEqualBytesFromScratch(_ which: Int) throws {
    var joiner = LabelJoiner(configuration: Self.configurations[which])
    let compared = Self.compareWhileRunning(&joiner, seed: UInt64(which), events: 3_000, every: 97)
    #expect(compared == 30)
    #expect(joiner.pendingCount > 0)
    // A restored joiner starts with nothing written: its first serialization is from scratch,
    // and it goes on as the original does.
    var restored = LabelJoiner(
      configuration: joiner.configuration,
      restoring: try LabelJoiner.State(bytes: joiner.exportState().serialized()))
    _ = Self.compareWhileRunning(&restored, seed: 99, events: 600, every: 53, start: 3_000)
    _ = Self.compareWhileRunning(&joiner, seed: 99, events: 600, every: 53, start: 3_000)
    var blocks: [Int32: [UInt8]] = [:]
    var otherBlocks: [Int32: [UInt8]] = [:]
    let sameAsOriginal =
      restored.serializedState(blocks: &blocks) == joiner.serializedState(blocks: &otherBlocks)
    #expect(sameAsOriginal)
  }

  /// The case that needs the stale marks: an impression written while it waits, then clicked
  /// while held for impression order, must be written again with its label and delay.
  @Test func aClickHeldAfterTheImpressionWasWrittenIsWrittenAgain() throws {
    var joiner = LabelJoiner(configuration: Self.configurations[0])
    var output: [LabelJoiner.LabelledExample] = []
    for (index, id) in ["a", "b", "c"].enumerated() {
      joiner.process(
        Event(kind: .impression, id: id, timeMilliseconds: Int64(index)), partition: 0,
        into: &output)
    }
    var blocks: [Int32: [UInt8]] = [:]
    let before = joiner.serializedState(blocks: &blocks)
    joiner.process(Event(kind: .click, id: "b", timeMilliseconds: 30), partition: 0, into: &output)
    #expect(output.isEmpty)
    blocks = [:]
    let after = joiner.serializedState(blocks: &blocks)
    let changed = after != before
    let sameAsFromScratch = after == joiner.exportState().serialized()
    #expect(changed)
    #expect(sameAsFromScratch)
    let held = try LabelJoiner.State(bytes: after).partitions[0].pending.first {
      $0.impression.id == "b"
    }
    #expect(held?.impression.label == true)
    #expect(held?.clickDelayMilliseconds == 29)
  }

  /// A feature name reads back as the bytes it was written with, in or out of the table, even
  /// where Swift calls two spellings equal (the features are hashed by their bytes).
  @Test func featureNamesKeepTheirBytes() throws {
    var joiner = LabelJoiner(configuration: Self.configurations[1])
    var output: [LabelJoiner.LabelledExample] = []
    let spellings = ["caf\u{E9}", "cafe\u{301}", "caf\u{E9}"]
    for (index, name) in spellings.enumerated() {
      joiner.process(
        Event(
          kind: .impression, id: "i\(index)", timeMilliseconds: Int64(index),
          categorical: [.init(name: name, value: "x")]), partition: 0, into: &output)
    }
    var blocks: [Int32: [UInt8]] = [:]
    let restored = try LabelJoiner.State(bytes: joiner.serializedState(blocks: &blocks))
    let names = restored.partitions[0].pending.map { Array($0.impression.categorical[0].name.utf8) }
    #expect(names == spellings.map { Array($0.utf8) })
  }

  /// What the joiner keeps of its last checkpoint is shown: `iak_label_checkpoint_copy_bytes` is
  /// the bytes of the blocks it wrote (the state less its 97-byte header), and a partition
  /// handed away takes its share with it.
  @Test func theCopyKeptForTheNextCheckpointIsAGauge() throws {
    let metrics = MetricsRegistry()
    var joiner = LabelJoiner(configuration: Self.configurations[1], metrics: metrics)
    #expect(
      JoinerIncrementalBytesTests.gauge(in: metrics) == 0 && joiner.checkpointCopyBytes == 0)
    _ = Self.compareWhileRunning(&joiner, seed: 3, events: 300, every: 1_000)
    var blocks: [Int32: [UInt8]] = [:]
    let bytes = joiner.serializedState(blocks: &blocks)
    #expect(joiner.checkpointCopyBytes == bytes.count - 97)
    #expect(Self.gauge(in: metrics) == Double(bytes.count - 97))
    joiner.removePartition(0)
    #expect(joiner.checkpointCopyBytes == blocks[1]!.count + blocks[2]!.count)
    #expect(Self.gauge(in: metrics) == Double(blocks[1]!.count + blocks[2]!.count))
  }

  /// The value of `iak_label_checkpoint_copy_bytes` in `metrics`.
  static func gauge(in metrics: MetricsRegistry) -> Double? {
    let name = "iak_label_checkpoint_copy_bytes"
    return metrics.render().split(separator: "\n").first { $0.hasPrefix(name + " ") }
      .flatMap { Double($0.dropFirst(name.count + 1)) }
  }
}

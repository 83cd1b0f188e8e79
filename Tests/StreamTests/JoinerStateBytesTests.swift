import Testing

@testable import Stream

@Suite struct JoinerStateBytesTests {
  /// A joiner state with every kind of entry: pending impressions (with numeric features, labels
  /// absent, regions absent), early clicks, resolved ids, two partitions.
  static func sampleJoinerState() -> LabelJoiner.State {
    var joiner = LabelJoiner(
      configuration: .init(
        waitMilliseconds: 1_000, maxOutOfOrdernessMilliseconds: 100, maxPending: 50))
    var output: [LabelJoiner.LabelledExample] = []
    var generator = SeededRandom(seed: 5)
    for index in 0..<400 {
      let time = Int64(index * 10)
      let impression = Event(
        kind: .impression, id: "imp-\(index)-é", timeMilliseconds: time,
        region: index % 3 == 0 ? nil : "r\(index % 4)",
        categorical: [.init(name: "user", value: "u\(index % 7)")],
        numeric: index % 2 == 0 ? ["price": Double(index) / 3, "age": -0.0] : [:])
      joiner.process(impression, partition: Int32(index % 2), into: &output)
      if Bool.random(using: &generator) {
        let click = Event(
          kind: .click, id: "imp-\(index + Int.random(in: 0...2, using: &generator))-é",
          timeMilliseconds: time + 20)
        joiner.process(click, partition: Int32(index % 2), into: &output)
      }
    }
    return joiner.exportState()
  }

  @Test func joinerStateRoundTripsBitForBit() throws {
    let state = Self.sampleJoinerState()
    #expect(state.partitions.count == 2)
    #expect(state.partitions.allSatisfy { !$0.pending.isEmpty && !$0.resolved.isEmpty })
    #expect(state.partitions.contains { !$0.earlyClicks.isEmpty })
    let bytes = state.serialized()
    let decoded = try LabelJoiner.State(bytes: bytes)
    #expect(decoded == state)
    #expect(decoded.serialized() == bytes)
    #expect(
      LabelJoiner.State().serialized() == Array("IAKJ".utf8) + [1] + Array(repeating: 0, count: 76))
  }

  @Test func damagedJoinerBytesAreRefusedNotTrapped() {
    let bytes = Self.sampleJoinerState().serialized()
    for length in stride(from: 0, to: bytes.count, by: 7) {
      #expect(throws: StateBytesError.self) {
        try LabelJoiner.State(bytes: Array(bytes[..<length]))
      }
    }
    #expect(throws: StateBytesError.self) { try LabelJoiner.State(bytes: bytes + [0]) }
    var generator = SeededRandom(seed: 11)
    for _ in 0..<2_000 {
      var damaged = bytes
      for _ in 0..<3 {
        damaged[Int.random(in: 0..<damaged.count, using: &generator)] = UInt8.random(
          in: 0...255, using: &generator)
      }
      _ = try? LabelJoiner.State(bytes: damaged)
    }
    var wrongVersion = bytes
    wrongVersion[4] = 2
    #expect {
      try LabelJoiner.State(bytes: wrongVersion)
    } throws: { "\($0)".contains("version 2 is not supported") }
  }

  @Test func routerStateRoundTripsBitForBit() throws {
    var router = try DomainRouter(configuration: .init(window: DomainWindow(parsing: "month")))
    for (month, region) in [(0, "west"), (40, "东"), (80, "../etc"), (120, "west")] {
      _ = router.route(timeMilliseconds: Int64(month) * 86_400_000 * 7, region: region)
    }
    let state = router.exportState()
    let bytes = state.serialized()
    let decoded = try DomainRouter.State(bytes: bytes)
    #expect(decoded == state)
    #expect(decoded.serialized() == bytes)
    for length in 0..<bytes.count {
      #expect(throws: StateBytesError.self) {
        try DomainRouter.State(bytes: Array(bytes[..<length]))
      }
    }
    var unsafe = DomainRouter.State()
    unsafe.domains = [.init(key: DomainKey(window: "..", region: "x"), ordinal: 0)]
    #expect(throws: StateBytesError.self) { try DomainRouter.State(bytes: unsafe.serialized()) }
  }
}

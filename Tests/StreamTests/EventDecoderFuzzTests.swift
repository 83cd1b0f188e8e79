import Base
import Observability
import Testing

@testable import Stream

/// Adversarial inputs: every outcome must be an event or a rejection with a reason, never a trap.
@Suite struct EventDecoderFuzzTests {
  static let schema: EventSchema = {
    var schema = EventSchema()
    schema.numericFeatures = ["price"]
    return schema
  }()

  static let seeds: [String] = [
    #"{"type":"impression","id":"imp-1","ts":1700000000123,"region":"sh","user":"u1","#
      + #""item":"i9","features":{"cat":"noodles","price":12.5},"click":1}"#,
    #"{"type":"click","id":"imp-1","ts":"2023-11-15T06:13:20.123+08:00","region":"sh"}"#,
    #"{"type":"impression","id":"ml-17","ts":881250949000,"region":"5","user":"196","#
      + #""item":"242","features":{"age":"45-49","gender":"M","occupation":"writer","#
      + #""genre":"Comedy","year":"1990s"},"synthetic":true,"click":0}"#,
    #"{ "id" : "é\u00e9🙂" , "type" : "impression" , "ts" : 5 , "x" : [1, -2.5e-3, true, null, {"k":[]}] }"#,
  ]

  static let decoder = EventDecoder(schema: schema, metrics: MetricsRegistry())

  static let fragments: [[UInt8]] = [
    "NaN", "1e999", "-Infinity", "\\ud800", "{\"a\":", "[[[[", "\"id\":\"x\",", "null", "\u{7F}",
    "é", "\"", "\\", "}", "]", ",", ":", "0", "-", "\"click\":1,", "\"features\":{}",
  ].map { Array($0.utf8) }

  static let interestingBytes: [UInt8] = [
    0x00, 0x01, 0x09, 0x0A, 0x1F, 0x20, 0x22, 0x5C, 0x7B, 0x7D, 0x5B, 0x5D, 0x3A, 0x2C, 0x30,
    0x39, 0x2D, 0x65, 0x2E, 0x80, 0xBF, 0xC3, 0xED, 0xF0, 0xFF, 0x6E, 0x74,
  ]

  func outcome(_ bytes: [UInt8]) -> Result<Event, EventRejection> {
    Result { () throws(EventRejection) in try Self.decoder.decode(bytes) }
  }

  @Test func seedsDecode() throws {
    for seed in Self.seeds {
      _ = try outcome(Array(seed.utf8)).get()
    }
  }

  @Test func everyTruncationIsMalformed() {
    for seed in Self.seeds {
      let bytes = Array(seed.utf8)
      for length in 0..<bytes.count {
        let result = outcome(Array(bytes[..<length]))
        guard case .failure(let rejection) = result else {
          Issue.record("prefix of \(length) bytes accepted: \(seed)")
          continue
        }
        #expect(rejection.reason == .malformedJSON, "prefix \(length) of \(seed)")
      }
    }
  }

  @Test func controlCharactersInStringsAreRejected() {
    for byte in UInt8(0)..<0x20 {
      let bytes =
        Array(#"{"type":"click","id":"a"#.utf8) + [byte] + Array(#"","ts":1}"#.utf8)
      #expect(outcome(bytes).failureReason == .malformedJSON, "byte \(byte)")
      let between = Array(#"{"type":"click","id":"a","#.utf8) + [byte] + Array(#""ts":1}"#.utf8)
      let isWhitespace = [0x09, 0x0A, 0x0D].contains(byte)
      #expect((outcome(between).failureReason == nil) == isWhitespace, "byte \(byte)")
    }
  }

  @Test func randomMutationsNeverTrapAndAcceptedEventsRoundTrip() throws {
    var generator = SplitMix64(seed: 20_261_124)
    var accepted = 0
    var reasons: Set<EventRejection.Reason> = []
    for _ in 0..<20_000 {
      var bytes = Array(Self.seeds.randomElement(using: &generator)!.utf8)
      for _ in 0..<Int.random(in: 1...4, using: &generator) {
        mutate(&bytes, using: &generator)
      }
      switch outcome(bytes) {
      case .success(let event):
        accepted += 1
        #expect(!event.id.isEmpty)
        #expect((0...EventTime.latestMilliseconds).contains(event.timeMilliseconds))
        #expect(event.numeric.values.allSatisfy { $0.isFinite })
        let again = try outcome(Array(event.jsonLine(schema: Self.schema).utf8)).get()
        #expect(sorted(again) == sorted(event))
      case .failure(let rejection):
        reasons.insert(rejection.reason)
        #expect(rejection.offset >= 0 && rejection.offset <= bytes.count)
      }
    }
    #expect(accepted > 100)
    #expect(
      reasons.isSuperset(of: [.malformedJSON, .invalidUTF8, .nonFiniteNumber, .duplicateKey]))
  }

  func mutate(_ bytes: inout [UInt8], using generator: inout SplitMix64) {
    let position = Int.random(in: 0...bytes.count, using: &generator)
    switch Int.random(in: 0..<5, using: &generator) {
    case 0 where position < bytes.count:
      bytes[position] = Self.interestingBytes.randomElement(using: &generator)!
    case 1: bytes.insert(UInt8.random(in: 0...255, using: &generator), at: position)
    case 2 where position < bytes.count: bytes.remove(at: position)
    case 3:
      let end = min(bytes.count, position + Int.random(in: 1...12, using: &generator))
      bytes.insert(contentsOf: bytes[position..<end], at: position)
    default:
      bytes.insert(contentsOf: Self.fragments.randomElement(using: &generator)!, at: position)
    }
  }

  func sorted(_ event: Event) -> Event {
    var copy = event
    copy.categorical.sort { $0.name < $1.name }
    return copy
  }
}

extension Result where Failure == EventRejection {
  fileprivate var failureReason: EventRejection.Reason? {
    if case .failure(let rejection) = self { return rejection.reason }
    return nil
  }
}

import Observability
import Stream
import Testing

@testable import Datasets

/// The hostile corpus: deterministic, covering every kind of damage, and each event getting from
/// the decoder exactly the verdict it promises; accepted ones get safe domain names.
@Suite struct HostileEventsTests {
  static let time: Int64 = 1_717_000_000_000
  static let corpus = HostileEvents(seed: 7).events(count: 10_000, timeMilliseconds: time)

  @Test func tenThousandEventsCoverEveryKindOfDamage() {
    let corpus = Self.corpus
    #expect(corpus.count == 10_000)
    var byCategory: [HostileEvent.Category: Int] = [:]
    for event in corpus { byCategory[event.category, default: 0] += 1 }
    #expect(Set(byCategory.keys) == Set(HostileEvent.Category.allCases), "\(byCategory)")
    #expect(corpus.allSatisfy { !$0.bytes.contains(0x0A) && !$0.bytes.isEmpty })
    #expect(corpus.filter { $0.bytes.count >= 10 * 1_048_576 }.count == 3)
    #expect(corpus.contains { $0.category == .deepNesting && $0.bytes.count > 60_000 })
    #expect(corpus.contains { $0.category == .nulBytes && $0.bytes.contains(0) })
    #expect(corpus.contains { $0.category == .longRegion && $0.bytes.count > 5_000 })
    let accepted = corpus.filter { $0.expectedRejection == nil }
    #expect(accepted.allSatisfy { $0.category.isAccepted })
    #expect(accepted.count > 50 && accepted.count < 400, "\(accepted.count)")
  }

  @Test func everyEventGetsExactlyTheVerdictItPromises() {
    let metrics = MetricsRegistry()
    let decoder = EventDecoder(metrics: metrics)
    var rejected: [EventRejection.Reason: Int] = [:]
    for (index, event) in Self.corpus.enumerated() {
      let outcome = Result { () throws(EventRejection) in try decoder.decode(event.bytes) }
      switch (outcome, event.expectedRejection) {
      case (.failure(let rejection), let expected?):
        #expect(
          rejection.reason == expected,
          "event \(index) (\(event.category)): \(rejection) \(Self.preview(event))")
        rejected[rejection.reason, default: 0] += 1
      case (.success(let decoded), nil):
        #expect(decoded.timeMilliseconds == Self.time)
      case (.success, let expected?):
        Issue.record("event \(index) (\(event.category)) accepted, expected \(expected)")
      case (.failure(let rejection), nil):
        Issue.record("event \(index) (\(event.category)) rejected: \(rejection)")
      }
    }
    // A malformed control record is not an event; ControlRecordTests covers `bad_control`.
    #expect(
      Set(rejected.keys)
        == Set(EventRejection.Reason.allCases.filter { $0.isFoundByDecoder && $0 != .badControl }))
    let rendered = metrics.render()
    for (reason, count) in rejected {
      #expect(
        rendered.contains("iak_events_rejected_total{reason=\"\(reason.rawValue)\"} \(count)"))
    }
  }

  @Test func theSameSeedGivesTheSameCorpusAndAnotherSeedAnother() {
    let again = HostileEvents(seed: 7)
    for index in [0, 1, 2_999, 5_555, 9_999] {
      #expect(again.event(index, timeMilliseconds: Self.time) == Self.corpus[index])
    }
    let other = HostileEvents(seed: 8).events(count: 200, timeMilliseconds: Self.time)
    let same = zip(other, Self.corpus.prefix(200)).filter { $0.0 == $0.1 }.count
    #expect(same < 20, "\(same) of 200 events equal under another seed")
  }

  @Test func acceptedHostileRegionsBecomeSafeDistinctDomainNames() throws {
    var router = try DomainRouter(configuration: .init(window: try DomainWindow(parsing: "month")))
    var names: [String: String] = [:]
    let accepted = Self.corpus.filter { $0.expectedRejection == nil }
    for hostile in accepted {
      let event = try EventDecoder(metrics: MetricsRegistry()).decode(hostile.bytes)
      let route = router.route(event)
      let region = route.domain.region
      #expect(DomainName.isSafe(region), "\(region)")
      #expect(region.utf8.count <= DomainName.maxLength)
      #expect(!region.hasPrefix(".") && !region.hasPrefix("-"))
      #expect(!region.contains("..") && !region.contains("/"))
      #expect(route.domain.description.split(separator: "/").count == 2)
      let raw = event.region ?? ""
      if let earlier = names[region] { #expect(earlier == raw, "\(raw) and \(earlier) collide") }
      names[region] = raw
    }
    #expect(names.count > 20)
  }

  @Test func mixingSpreadsTheCorpusAtTheStreamsEarliestTime() throws {
    let good: [[UInt8]] = (0..<40).map {
      Array(
        (#"{"type":"impression","id":"g\#($0)","ts":\#(1_000_000 + ($0 % 7) * 1000),"#
          + #""region":"east","user":"u1","item":"i1","click":0}"#).utf8)
    }
    let mix = HostileEvents(seed: 3).mixed(into: good, count: 100)
    #expect(mix.lines.count == 140)
    #expect(mix.hostile.count == 100)
    #expect(mix.lines.enumerated().filter { mix.hostile[$0.offset] == nil }.map(\.element) == good)
    #expect(mix.hostile.keys.min() == 1 && mix.hostile.keys.max() == 139)
    let decoder = EventDecoder(metrics: MetricsRegistry())
    var decoded = 0
    for (number, hostile) in mix.hostile {
      #expect(mix.lines[number] == hostile.bytes)
      guard let event = try? decoder.decode(hostile.bytes) else { continue }
      decoded += 1
      #expect(event.timeMilliseconds == 1_000_000, "line \(number)")
    }
    #expect(decoded == mix.hostile.values.filter { $0.expectedRejection == nil }.count)
    #expect(mix.jsonLines.split(separator: 0x0A, omittingEmptySubsequences: false).count == 141)
  }

  static func preview(_ event: HostileEvent) -> String {
    String(decoding: event.bytes.prefix(160), as: UTF8.self).debugDescription
  }
}

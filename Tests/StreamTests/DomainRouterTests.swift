import Base
import Observability
import Testing

@testable import Stream

@Suite struct DomainRouterTests {
  func time(_ text: String) throws -> Int64 {
    try #require(EventTime.milliseconds(rfc3339: text), "bad test time \(text)")
  }

  func router(
    _ window: String, map: String? = nil, maxRegions: Int = 1_000,
    metrics: MetricsRegistry? = nil
  ) throws -> DomainRouter {
    try DomainRouter(
      configuration: .init(
        window: DomainWindow(parsing: window),
        regionMap: map.map { try DomainRegionMap(parsing: $0) }, maxRegions: maxRegions),
      metrics: metrics)
  }

  /// The window part of the domain an example at `text` goes to.
  func windowName(_ router: inout DomainRouter, _ text: String) throws -> String {
    router.route(timeMilliseconds: try time(text), region: "r").domain.window
  }

  @Test func slotsInShanghaiWrapPastMidnight() throws {
    var router = try router("slots 06:00 10:00 14:00 17:00 21:00 tz=Asia/Shanghai")
    let expected = [
      ("2024-05-01T05:59:59.999+08:00", "s2100"), ("2024-05-01T06:00:00+08:00", "s0600"),
      ("2024-05-01T09:59:59+08:00", "s0600"), ("2024-05-01T10:00:00+08:00", "s1000"),
      ("2024-05-01T16:59:59+08:00", "s1400"), ("2024-05-01T21:00:00+08:00", "s2100"),
      ("2024-05-01T23:59:59+08:00", "s2100"), ("2024-05-02T00:00:00+08:00", "s2100"),
      // 22:30 UTC is 06:30 the next morning in Shanghai.
      ("2024-05-01T22:30:00Z", "s0600"), ("2024-05-01T21:59:00Z", "s2100"),
    ]
    for (text, slot) in expected {
      #expect(try windowName(&router, text) == slot, "\(text)")
    }
    let route = router.route(timeMilliseconds: try time("2024-06-01T12:00:00+08:00"), region: "r")
    #expect(route.domain.description == "s1000/r")
    #expect(!route.isNew)
    #expect(route.parent == nil)
  }

  @Test func slotsFollowDaylightSavingTime() throws {
    var router = try router("slots breakfast=06:00 dinner=17:00 tz=America/New_York")
    // Before and after the spring change (2024-03-10) and the autumn change (2024-11-03).
    #expect(try windowName(&router, "2024-03-09T10:30:00Z") == "dinner")  // 05:30 EST
    #expect(try windowName(&router, "2024-03-10T10:30:00Z") == "breakfast")  // 06:30 EDT
    #expect(try windowName(&router, "2024-03-10T06:59:59Z") == "dinner")  // 01:59:59 EST
    #expect(try windowName(&router, "2024-03-10T07:00:00Z") == "dinner")  // 03:00 EDT
    #expect(try windowName(&router, "2024-11-02T10:30:00Z") == "breakfast")  // 06:30 EDT
    #expect(try windowName(&router, "2024-11-03T10:30:00Z") == "dinner")  // 05:30 EST
    #expect(try windowName(&router, "2024-11-03T11:00:00Z") == "breakfast")  // 06:00 EST
    #expect(try windowName(&router, "2024-11-03T21:59:59Z") == "breakfast")  // 16:59:59 EST
    #expect(try windowName(&router, "2024-11-03T22:00:00Z") == "dinner")  // 17:00 EST
  }

  @Test func monthsChangeAtMidnightInTheirZone() throws {
    var utc = try router("month")
    #expect(try windowName(&utc, "1998-02-28T23:59:59.999Z") == "1998-02")
    #expect(try windowName(&utc, "1998-03-01T00:00:00Z") == "1998-03")
    #expect(try windowName(&utc, "2000-02-29T12:00:00Z") == "2000-02")
    #expect(try windowName(&utc, "1998-12-31T23:59:59Z") == "1998-12")
    #expect(try windowName(&utc, "1999-01-01T00:00:00Z") == "1999-01")
    var shanghai = try router("month tz=Asia/Shanghai")
    #expect(try windowName(&shanghai, "1998-02-28T15:59:59Z") == "1998-02")
    #expect(try windowName(&shanghai, "1998-02-28T16:00:00Z") == "1998-03")
    var newYork = try router("month tz=America/New_York")
    #expect(try windowName(&newYork, "1998-04-01T03:59:59Z") == "1998-03")  // 23:59:59 EST
    #expect(try windowName(&newYork, "1998-04-01T04:59:59Z") == "1998-03")  // DST began 04-05
    #expect(try windowName(&newYork, "1998-04-01T05:00:00Z") == "1998-04")
  }

  /// The clock remembers the month it last named, and reuses it for any time inside it: the
  /// same windows as a clock that computes each one afresh, for times near and across month
  /// ends (leap years, a zone with daylight saving), in and out of order.
  @Test func aRememberedMonthNamesTheSameWindowsAsAFreshClock() throws {
    var random = SplitMix64(seed: 11)
    // Month starts in UTC (leap years included); the zones' own month starts are 4, 5 or -8
    // hours from them.
    let starts = try [
      "1998-02-01T00:00:00Z", "1998-03-01T00:00:00Z", "1998-04-01T00:00:00Z",
      "2000-03-01T00:00:00Z", "2000-02-01T00:00:00Z", "1999-01-01T00:00:00Z",
      "2024-11-01T00:00:00Z",
    ].map(time)
    let hour: Int64 = 3_600_000
    let shifts = [0, 4 * hour, 5 * hour, -8 * hour]
    let nearby: [Int64] = [-1_001, -1_000, -999, -1, 0, 1, 999, 1_000]
    for zone in ["month", "month tz=America/New_York", "month tz=Asia/Shanghai"] {
      let window = try DomainWindow(parsing: zone)
      var remembering = RouterClock(window: window)
      for _ in 0..<20_000 {
        let start =
          starts[random.nextInt(below: starts.count)] + shifts[random.nextInt(below: shifts.count)]
        // Half of them within a second of a month start, the others within a day of it.
        let offset =
          random.nextInt(below: 2) == 0
          ? nearby[random.nextInt(below: nearby.count)]
          : Int64(random.nextInt(below: 2 * 86_400_000)) - 86_400_000
        var fresh = RouterClock(window: window)
        let expected = fresh.window(at: start + offset)
        let remembered = remembering.window(at: start + offset)
        // The first difference stops the test, naming the time.
        try #require(
          remembered.name == expected.name && remembered.ordinal == expected.ordinal,
          "\(zone) at \(start + offset) ms: \(remembered.name), not \(expected.name)")
      }
    }
  }

  @Test func rollingPeriodsAlignToTheEpoch() throws {
    var weekly = try router("every 7d")
    #expect(try windowName(&weekly, "1970-01-01T00:00:00Z") == "1970-01-01")
    #expect(try windowName(&weekly, "1970-01-07T23:59:59.999Z") == "1970-01-01")
    #expect(try windowName(&weekly, "1970-01-08T00:00:00Z") == "1970-01-08")
    #expect(try windowName(&weekly, "1998-03-10T08:00:00Z") == "1998-03-05")
    #expect(weekly.route(timeMilliseconds: -1, region: "r").domain.window == "1969-12-25")
    var halfDays = try router("every 12h")
    #expect(try windowName(&halfDays, "1998-03-10T11:59:59Z") == "1998-03-10T00")
    #expect(try windowName(&halfDays, "1998-03-10T12:00:00Z") == "1998-03-10T12")
  }

  @Test func newRollingDomainsNameTheirWarmStartParent() throws {
    var router = try router("month")
    let january = router.route(timeMilliseconds: try time("1998-01-15T00:00:00Z"), region: "west")
    #expect(january.isNew && january.parent == nil)
    let march = router.route(timeMilliseconds: try time("1998-03-02T00:00:00Z"), region: "west")
    #expect(march.isNew)
    #expect(march.parent?.description == "1998-01/west")
    let east = router.route(timeMilliseconds: try time("1998-03-02T00:00:00Z"), region: "east")
    #expect(east.isNew && east.parent == nil)
    // A late February example: its parent is January, not March.
    let february = router.route(timeMilliseconds: try time("1998-02-20T00:00:00Z"), region: "west")
    #expect(february.parent?.description == "1998-01/west")
    let again = router.route(timeMilliseconds: try time("1998-03-30T00:00:00Z"), region: "west")
    #expect(!again.isNew && again.parent == nil)
    #expect(
      router.domains.map(\.description) == [
        "1998-01/west", "1998-02/west", "1998-03/east", "1998-03/west",
      ])
    let april = router.route(timeMilliseconds: try time("1998-04-01T00:00:00Z"), region: "west")
    #expect(april.parent?.description == "1998-03/west")
    // A retired domain is no parent any more, and is new again if examples return.
    router.forget(march.domain)
    let may = router.route(timeMilliseconds: try time("1998-05-01T00:00:00Z"), region: "west")
    #expect(may.parent?.description == "1998-04/west")
    router.forget(april.domain)
    router.forget(may.domain)
    let june = router.route(timeMilliseconds: try time("1998-06-01T00:00:00Z"), region: "west")
    #expect(june.parent?.description == "1998-02/west")
    #expect(router.route(timeMilliseconds: try time("1998-03-05T00:00:00Z"), region: "west").isNew)
  }

  @Test func mapsRegionsWithAFallback() throws {
    let metrics = MetricsRegistry()
    var router = try router(
      "every 1d", map: "0:east, 1:east, 9:west, V*:canada, V3*:vancouver", metrics: metrics)
    func region(_ raw: String?) -> String {
      router.route(timeMilliseconds: 0, region: raw).domain.region
    }
    #expect(region("0") == "east")
    #expect(region("9") == "west")
    #expect(region("V3N4P") == "vancouver")
    #expect(region("V5A2B") == "canada")
    #expect(region("5") == "unknown")
    #expect(region(nil) == "unknown")
    #expect(region("") == "unknown")
    let text = metrics.render()
    #expect(text.contains(#"iak_router_fallback_total{reason="unmapped"} 1"#))
    #expect(text.contains(#"iak_router_fallback_total{reason="missing"} 2"#))
    #expect(text.contains("iak_router_domains 5\n"))
  }

  @Test func sanitisesHostileRegions() throws {
    var router = try router("month")
    let hostile = [
      "../../etc", "/etc/passwd", String(repeating: "x", count: 5_000), "a\u{0}b\n\tc\u{7F}",
      "上海", "café", "..", ".hidden", "a/b", "a b", "a_b", "west", "we\u{301}st", "-rf",
      String(repeating: "é", count: 3_000),
    ]
    var keys: Set<String> = []
    for raw in hostile {
      let key = router.route(timeMilliseconds: 0, region: raw).domain
      let text = key.description
      #expect(key.region.utf8.count <= DomainName.maxLength, "\(raw.prefix(20))")
      #expect(
        key.region.utf8.allSatisfy {
          ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x41 && $0 <= 0x5A) || ($0 >= 0x61 && $0 <= 0x7A)
            || $0 == 0x2E || $0 == 0x5F || $0 == 0x2D
        })
      #expect(!text.contains(".."))
      #expect(!key.region.hasPrefix(".") && !key.region.hasPrefix("-"))
      #expect(!text.hasPrefix("/"))
      keys.insert(text)
    }
    #expect(keys.count == hostile.count)
    #expect(DomainName.sanitise("west") == "west")
    #expect(DomainName.sanitise("../../etc")?.hasPrefix("_._.__etc-") == true)
    #expect(DomainName.sanitise("") == nil)
    #expect(DomainName.sanitise("-rf")?.hasPrefix("_rf-") == true)
    #expect(!DomainName.isSafe("-rf") && DomainName.isSafe("r-f"))
    // The same raw value always gets the same name, in any router.
    var other = try self.router("month")
    #expect(
      other.route(timeMilliseconds: 0, region: "上海").domain.region
        == router.route(timeMilliseconds: 0, region: "上海").domain.region)
  }

  @Test func aRawValueCannotTakeOverAnotherRegionsName() throws {
    var router = try router("month")
    let spoof = try #require(DomainName.sanitise("a b"))
    let first = router.route(timeMilliseconds: 0, region: spoof).domain.region
    let second = router.route(timeMilliseconds: 0, region: "a b").domain.region
    #expect(first == spoof)
    #expect(second != spoof)
    #expect(DomainName.isSafe(second))
  }

  @Test func readsTheRegionFromAFeatureWhenConfigured() throws {
    var router = try DomainRouter(
      configuration: .init(window: DomainWindow(parsing: "month"), regionFeature: "city"))
    let event = Event(
      kind: .impression, id: "a", timeMilliseconds: 0, region: "north",
      categorical: [.init(name: "city", value: "sh")])
    #expect(router.route(event).domain.description == "1970-01/sh")
    var plain = try self.router("month")
    #expect(plain.route(event).domain.description == "1970-01/north")
    #expect(
      router.route(Event(kind: .impression, id: "b", timeMilliseconds: 0, region: "north")).domain
        .region
        == "unknown")
  }

  @Test func boundsTheNumberOfRegions() throws {
    let metrics = MetricsRegistry()
    var router = try router("month", maxRegions: 2, metrics: metrics)
    let regions = ["a", "b", "c", "a", "d"].map {
      router.route(timeMilliseconds: 0, region: $0).domain.region
    }
    #expect(regions == ["a", "b", "unknown", "a", "unknown"])
    #expect(metrics.render().contains(#"iak_router_fallback_total{reason="overflow"} 2"#))
  }

  /// `knownDomain(of:)` and `newDomainName(of:)` remember the last known domain they found:
  /// over routes, forgotten domains, new regions, region overflow, a region map and a region
  /// feature, each answer is the one a router restored from the same state (remembering
  /// nothing of the kind) gives, also right after the router changed.
  @Test(arguments: [false, true])
  func knownAndNewDomainsAnswerAsARestoredRouter(mapsAFeature: Bool) throws {
    var router = try DomainRouter(
      configuration: .init(
        window: DomainWindow(parsing: "month"),
        regionMap: mapsAFeature ? try DomainRegionMap(parsing: "a:east, b*:west") : nil,
        maxRegions: 3, regionFeature: mapsAFeature ? "city" : nil))
    var random = SplitMix64(seed: 7)
    let months = ["1998-01-15T00:00:00Z", "1998-02-15T00:00:00Z"].map { try! time($0) }
    var known = 0
    var new = 0
    func check(_ event: Event, _ step: Int) throws {
      var fresh = try DomainRouter(
        configuration: router.configuration, restoring: router.exportState())
      let answer = router.knownDomain(of: event)
      #expect(answer == fresh.knownDomain(of: event), "step \(step)")
      let name = router.newDomainName(of: event)
      #expect(name == fresh.newDomainName(of: event), "step \(step)")
      known += answer == nil ? 0 : 1
      new += name == nil ? 0 : 1
    }
    for step in 0..<2_000 {
      let region = ["a", "b", "bc", "c", "d", "e", "", nil][Int(random.next() % 8)]
      let event = Event(
        kind: .impression, id: "\(step)", timeMilliseconds: months[Int(random.next() % 2)],
        region: mapsAFeature ? "north" : region,
        categorical: mapsAFeature ? region.map { [.init(name: "city", value: $0)] } ?? [] : [])
      // Mostly the same event again, as a user's session sends them.
      for _ in 0..<Int(random.next() % 3) + 1 { try check(event, step) }
      switch random.next() % 4 {
      case 0: _ = router.route(event)
      case 1: router.domains.first.map { router.forget($0) }
      default:
        if let domain = router.knownDomain(of: event), step % 2 == 0 { router.forget(domain) }
      }
      // The same event once the router changed.
      try check(event, step)
    }
    #expect(known > 500 && new > 500)
  }

  @Test func stateRoundTrips() throws {
    var router = try router("month")
    for (text, region) in [
      ("1998-01-15T00:00:00Z", "west"), ("1998-02-15T00:00:00Z", "east"),
      ("1998-03-15T00:00:00Z", "west"), ("1998-03-15T00:00:00Z", "../x"),
    ] {
      _ = router.route(timeMilliseconds: try time(text), region: region)
    }
    let state = router.exportState()
    #expect(state.domains.count == 4)
    var restored = try DomainRouter(configuration: router.configuration, restoring: state)
    #expect(restored.exportState() == state)
    let next = try time("1998-05-01T00:00:00Z")
    #expect(
      restored.route(timeMilliseconds: next, region: "west")
        == router.route(timeMilliseconds: next, region: "west"))
    #expect(
      restored.route(timeMilliseconds: next, region: "../x").parent?.region
        == DomainName.sanitise("../x"))
  }

  @Test(arguments: [
    ("slots 25:00", "'25:00' is not a time of day"),
    ("slots 6:00", "'6:00' is not a time of day"),
    ("slots", "no slot times"),
    ("slots 06:00 06:00", "two slots start at the same time"),
    ("slots a=06:00 a=07:00", "slot names must differ"),
    ("slots ../x=06:00", "slot name '../x' must be"),
    ("slots 06:00 tz=Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
    ("every 7", "expected 'every N'"),
    ("every 0d", "expected 'every N'"),
    ("every 2w", "expected 'every N'"),
    ("every 7d tz=UTC", "take no tz="),
    ("month 2", "'month' takes only"),
    ("weekly", "expected 'slots HH:MM"),
    ("", "expected 'slots HH:MM"),
  ])
  func windowSpecErrorsSayWhatIsWrong(spec: String, message: String) {
    #expect {
      _ = try DomainWindow(parsing: spec)
    } throws: { error in
      "\(error)".hasPrefix("domain.window '\(spec)': ") && "\(error)".contains(message)
    }
  }

  @Test func regionMapErrorsSayWhatIsWrong() {
    for (spec, message) in [
      ("0east", "entry '0east' is not 'value:area'"), ("0:east,0:west", "value '0' appears twice"),
      ("0:../x", "area '../x' must be"), ("V*:a,V*:b", "prefix 'V*' appears twice"),
    ] {
      #expect(throws: DomainSpecError.self) { try DomainRegionMap(parsing: spec) }
      do {
        _ = try DomainRegionMap(parsing: spec)
      } catch {
        #expect(error.description.contains(message), "\(error)")
      }
    }
    #expect(throws: DomainSpecError.self) {
      try DomainRouter(
        configuration: .init(window: DomainWindow(parsing: "month"), fallbackRegion: "../x"))
    }
  }
}

import Base
import Testing

@testable import Stream

/// Period names read back as instants (`DomainWindow.nameStartMilliseconds`) and the latest end
/// of a period under a window (`latestEndMilliseconds(ofPeriodNamed:)`).
@Suite struct DomainWindowPeriodNameTests {
  @Test func namesReadAsTheirUTCStartWhateverTheWindow() {
    // 1998-03-01T00:00Z and 1998-03-05T00:00Z, from `date -u -d ... +%s`.
    #expect(DomainWindow.nameStartMilliseconds("1998-03") == 888_710_400_000)
    #expect(DomainWindow.nameStartMilliseconds("1998-03-05") == 889_056_000_000)
    let noon: Int64 = 889_056_000_000 + 43_200_000
    #expect(DomainWindow.nameStartMilliseconds("1998-03-05T12") == noon)
    #expect(DomainWindow.nameStartMilliseconds("1996-02-29") == 825_552_000_000)
    for name in [
      "s0600", "lunch", "1998-13", "1998-00", "1997-02-29", "1998-03-32", "1998-03-05T24",
      "1998-3-05", "1998-03-05 12", "98-03", "1998-03-05T1", "1998/03", "١٩٩٨-03", "",
    ] {
      #expect(DomainWindow.nameStartMilliseconds(name) == nil, "\(name)")
    }
  }

  @Test func aPeriodsLatestEndFollowsTheWindowThatMakesItsName() throws {
    let day: Int64 = 86_400_000
    let month = try DomainWindow(parsing: "month tz=Asia/Shanghai")
    // February 1996 has 29 days; a day more covers any time zone.
    #expect(
      month.latestEndMilliseconds(ofPeriodNamed: "1996-02") == 825_638_400_000 + day)
    #expect(month.latestEndMilliseconds(ofPeriodNamed: "1996-02-29") == nil)
    let weekly = try DomainWindow(parsing: "every 7d")
    #expect(weekly.latestEndMilliseconds(ofPeriodNamed: "1998-03-05") == 889_056_000_000 + 7 * day)
    #expect(weekly.latestEndMilliseconds(ofPeriodNamed: "1998-03") == nil)
    // An hour's name is not a whole-day period's, nor a day's a 12-hour one's.
    #expect(weekly.latestEndMilliseconds(ofPeriodNamed: "1998-03-05T12") == nil)
    let halfDays = try DomainWindow(parsing: "every 12h")
    #expect(halfDays.latestEndMilliseconds(ofPeriodNamed: "1998-03-05") == nil)
    #expect(
      halfDays.latestEndMilliseconds(ofPeriodNamed: "1998-03-05T12") == 889_056_000_000 + day)
    let slots = try DomainWindow(parsing: "slots 06:00 17:00")
    #expect(slots.latestEndMilliseconds(ofPeriodNamed: "1998-03-05") == nil)
    #expect(slots.latestEndMilliseconds(ofPeriodNamed: "s0600") == nil)
  }

  /// Every event the router puts in a period lies from the period's name start (a day before
  /// it for a month in a zone ahead of UTC) to before its latest end.
  @Test(arguments: [
    "month", "month tz=Asia/Shanghai", "month tz=America/Los_Angeles", "every 7d", "every 12h",
    "every 1d",
  ])
  func routedEventsLieWithinTheirPeriodsBounds(spec: String) throws {
    let window = try DomainWindow(parsing: spec)
    var router = try DomainRouter(configuration: .init(window: window))
    var generator = SplitMix64(seed: 11)
    for _ in 0..<2_000 {
      // Times from 1997 to 2001.
      let time = 852_076_800_000 + Int64(generator.next() % 126_230_400_000)
      let name = router.route(timeMilliseconds: time, region: "r").domain.window
      let start = try #require(DomainWindow.nameStartMilliseconds(name), "\(name)")
      let end = try #require(window.latestEndMilliseconds(ofPeriodNamed: name), "\(name)")
      #expect(start - 86_400_000 <= time && time < end, "\(spec) \(name) \(time)")
    }
  }
}

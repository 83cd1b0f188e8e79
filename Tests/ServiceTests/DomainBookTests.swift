import Service
import Testing

/// The domain book's numbering, forgetting and moving, through its public API.
@Suite struct DomainBookTests {
  @Test func aKernelGetsANewNumberOnlyWhenItChangedAndGoesAgainUntilDelivered() {
    var book = DomainBook()
    let first = book.allocate(stepCounts: [("a", 4), ("b", 2)])
    #expect(first.map(\.domain) == ["a", "b"] && first.map(\.version) == [1, 1])
    #expect(book.undelivered == ["a", "b"])
    book.delivered("a")
    // a is unchanged and delivered: nothing; b is unchanged but owed: same number again.
    let second = book.allocate(stepCounts: [("a", 4), ("b", 2)])
    #expect(second.map(\.domain) == ["b"] && second[0].version == 1 && !second[0].isNew)
    // a trained on: next number; a replaced kernel gets one whatever its steps.
    book.delivered("b")
    book.replaced("b")
    let third = book.allocate(stepCounts: [("a", 5), ("b", 2)])
    #expect(third.map(\.version) == [2, 2] && third.allSatisfy(\.isNew))
    #expect(book.publishedSteps == ["a": 5, "b": 2])
  }

  @Test func aRetiredDomainNumbersOnFromItsLastVersionAndLeavesTheRetiredList() {
    var book = DomainBook()
    _ = book.allocate(stepCounts: [("a", 1)])
    _ = book.allocate(stepCounts: [("a", 2)])
    book.deactivated = ["a"]
    book.retire("a", lane: 3)
    #expect(book.kernelVersions.isEmpty && book.deactivated.isEmpty && book.undelivered.isEmpty)
    #expect(book.retired == ["a": RetiredVersion(version: 2, lane: 3)])
    let back = book.allocate(stepCounts: [("a", 1)])
    #expect(back[0].version == 3 && book.retired.isEmpty)
  }

  @Test func aShareMovesToAnotherBookAndReleaseForgetsIt() {
    var book = DomainBook()
    _ = book.allocate(stepCounts: [("a", 1), ("b", 1), ("c", 1)])
    book.deactivated = ["a", "c"]
    book.retired = [
      "old": RetiredVersion(version: 7, lane: 0), "other": RetiredVersion(version: 2, lane: 1),
    ]
    let share = book.share(ofLane: 0, domains: ["a", "b"])
    #expect(share.kernelVersions == ["a": 1, "b": 1] && share.deactivated == ["a"])
    #expect(share.retired == ["old": RetiredVersion(version: 7, lane: 0)])
    book.release(lane: 0, domains: ["a", "b"])
    #expect(book.kernelVersions == ["c": 1] && book.retired.keys.sorted() == ["other"])
    var taker = DomainBook()
    taker.retired = ["old": RetiredVersion(version: 9, lane: 0)]
    taker.adopt(share)
    #expect(taker.kernelVersions == ["a": 1, "b": 1] && taker.undelivered == ["a", "b"])
    // A newer retired entry held here is kept.
    #expect(taker.retired["old"]?.version == 9)
  }

  @Test func theMetadataReadsBackToTheSameBookAndHasTheDocumentedText() {
    var book = DomainBook()
    _ = book.allocate(stepCounts: [("1998-01/east", 12), ("1998-01/west", 3)])
    book.delivered("1998-01/west")
    book.deactivated = ["1998-01/west"]
    book.retired = ["1997-12/east": RetiredVersion(version: 4, lane: nil)]
    let metadata = book.encoded()
    #expect(metadata["kernel_versions"] == #"{"1998-01/east":1,"1998-01/west":1}"#)
    #expect(metadata["published_steps"] == #"{"1998-01/east":12,"1998-01/west":3}"#)
    #expect(metadata["deactivated"] == "1998-01/west")
    #expect(metadata["undelivered"] == "1998-01/east")
    #expect(metadata["retired_kernel_versions"] == #"{"1997-12/east":{"version":4}}"#)
    #expect(DomainBook(metadata: metadata) == book)
    // Metadata written before the book (a snapshot's extras without its keys) reads as empty.
    #expect(DomainBook(metadata: ["other": "x"]) == DomainBook())
  }

  /// Dropped retired entries leave a floor: a domain that may have been one of them numbers on
  /// above every dropped version; a domain of a later period, or a slot, numbers from 1.
  @Test func droppedRetiredEntriesLeaveAFloorThatKeepsVersionsUnique() {
    var book = DomainBook()
    book.retired = [
      "1998-01/east": RetiredVersion(version: 7, lane: 0),
      "1998-02/east": RetiredVersion(version: 3, lane: 1),
      "1998-03/east": RetiredVersion(version: 5, lane: 0),
      "s0600/east": RetiredVersion(version: 9, lane: 0),
    ]
    var asked: [String] = []
    let dropped = book.dropRetired { domain, entry in
      asked.append(domain)
      // Everything but March is past reach; the slot is asked about but never dropped.
      return !domain.hasPrefix("1998-03")
    }
    #expect(dropped == ["1998-01/east", "1998-02/east"])
    #expect(asked.sorted() == ["1998-01/east", "1998-02/east", "1998-03/east", "s0600/east"])
    #expect(book.retired.keys.sorted() == ["1998-03/east", "s0600/east"])
    // 1998-02-01T00:00Z: the later of the two periods dropped; the higher of their versions.
    #expect(book.retiredFloor == RetiredFloor(version: 7, windowStartMilliseconds: 886_291_200_000))

    let numbers = book.allocate(stepCounts: [
      ("1998-01/east", 1), ("1998-02/west", 1), ("1998-03/east", 1), ("1998-03/west", 1),
      ("s0600/east", 1), ("s1700/east", 1),
    ])
    #expect(
      numbers.map { "\($0.domain)=\($0.version)" } == [
        "1998-01/east=8",  // dropped: above the floor, above its own last version 7
        "1998-02/west=8",  // never retired, but its period is no later than the floor's
        "1998-03/east=6",  // its own entry
        "1998-03/west=1",  // a later period
        "s0600/east=10",  // its own entry (slots are never dropped)
        "s1700/east=1",
      ])
    #expect(book.retired.isEmpty)
    // Nothing dropped again: the floor stays as it was.
    #expect(book.dropRetired { _, _ in true }.isEmpty)
    #expect(book.retiredFloor == RetiredFloor(version: 7, windowStartMilliseconds: 886_291_200_000))
  }

  @Test func theFloorTravelsWithEveryShareAndReadsBack() throws {
    var book = DomainBook()
    book.retired = ["1998-01/east": RetiredVersion(version: 4, lane: 2)]
    book.dropRetired { _, _ in true }
    let floor = RetiredFloor(version: 4, windowStartMilliseconds: 883_612_800_000)
    #expect(book.retiredFloor == floor)
    #expect(
      book.encoded()["retired_version_floor"] == #"{"version":4,"window_start_ms":883612800000}"#)
    #expect(DomainBook(metadata: book.encoded()) == book)
    // Any lane's share carries it (a domain may come back through any partition).
    let share = book.share(ofLane: 5, domains: [])
    #expect(share.retiredFloor == floor)
    // A taker with a floor of its own keeps what covers both.
    var taker = DomainBook()
    taker.retiredFloor = RetiredFloor(version: 9, windowStartMilliseconds: 800_000_000_000)
    taker.adopt(share)
    #expect(
      taker.retiredFloor == RetiredFloor(version: 9, windowStartMilliseconds: 883_612_800_000))
    // A malformed floor reads as none.
    #expect(
      DomainBook(metadata: ["retired_version_floor": #"{"version":"x"}"#]).retiredFloor == nil)
  }

  @Test func aDomainTakenOverWithAVersionLeavesTheTakersRetiredList() {
    var taker = DomainBook()
    taker.retired = ["1998-01/east": RetiredVersion(version: 2, lane: 0)]
    var giver = DomainBook()
    _ = giver.allocate(stepCounts: [("1998-01/east", 1)])
    _ = giver.allocate(stepCounts: [("1998-01/east", 2)])
    _ = giver.allocate(stepCounts: [("1998-01/east", 3)])
    taker.adopt(giver.share(ofLane: 0, domains: ["1998-01/east"]))
    #expect(taker.retired.isEmpty && taker.kernelVersions == ["1998-01/east": 3])
    #expect(taker.allocate(stepCounts: [("1998-01/east", 4)])[0].version == 4)
  }

  /// A book that holds a domain's entry of its own and takes over a floor that stands for a
  /// higher version of it (dropped by the other process) numbers on above the floor.
  @Test func anEntryLowerThanAFloorThatCoversItNumbersOnFromTheFloor() {
    var taker = DomainBook()
    taker.retired = ["1998-01/east": RetiredVersion(version: 2, lane: 0)]
    var giver = DomainBook()
    giver.retired = ["1998-01/east": RetiredVersion(version: 7, lane: 0)]
    giver.dropRetired { _, _ in true }
    taker.adopt(giver.share(ofLane: 0, domains: []))
    #expect(taker.retired["1998-01/east"]?.version == 2)
    #expect(taker.nextVersion(of: "1998-01/east") == 8)
    #expect(taker.allocate(stepCounts: [("1998-01/east", 1)])[0].version == 8)
    // A domain of a later period keeps its own entry's numbering.
    taker.retired["1998-02/east"] = RetiredVersion(version: 3, lane: 0)
    #expect(taker.nextVersion(of: "1998-02/east") == 4)
  }
}

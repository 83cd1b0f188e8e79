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
}

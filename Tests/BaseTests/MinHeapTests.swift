import Base
import Testing

/// The heap against the swap-based sifts it replaced and against a sort.
struct MinHeapTests {
  /// A key whose order ignores `tag`: equal keys with different tags show which of two equal
  /// elements a heap gives first.
  struct Key: Comparable, Sendable {
    var order: Int
    var tag: String

    static func < (lhs: Key, rhs: Key) -> Bool { lhs.order < rhs.order }
    static func == (lhs: Key, rhs: Key) -> Bool { lhs.order == rhs.order }
  }

  /// The swap-based heap `MinHeap` used before its sifts moved into a hole.
  struct SwappingHeap {
    var storage: [Key] = []

    mutating func insert(_ element: Key) {
      storage.append(element)
      var child = storage.count - 1
      while child > 0 {
        let parent = (child - 1) / 2
        guard storage[child] < storage[parent] else { break }
        storage.swapAt(child, parent)
        child = parent
      }
    }

    mutating func removeMinimum() -> Key? {
      guard !storage.isEmpty else { return nil }
      storage.swapAt(0, storage.count - 1)
      let smallest = storage.removeLast()
      var parent = 0
      while true {
        let left = 2 * parent + 1
        let right = left + 1
        var smallestChild = parent
        if left < storage.count && storage[left] < storage[smallestChild] { smallestChild = left }
        if right < storage.count && storage[right] < storage[smallestChild] {
          smallestChild = right
        }
        if smallestChild == parent { break }
        storage.swapAt(parent, smallestChild)
        parent = smallestChild
      }
      return smallest
    }
  }

  @Test func holdsTheSameOrderAsSwappingWithTiesAndHeapStrings() {
    var random = SplitMix64(seed: 20_261_204)
    var heap = MinHeap<Key>()
    var reference = SwappingHeap()
    var popped = 0
    for step in 0..<20_000 {
      // Mostly inserts at first, mostly removals later; few distinct orders, so many ties.
      if random.next() % 100 < (step < 10_000 ? 70 : 30) {
        let order = Int(random.next() % 64)
        // Tags longer than a small string's 15 bytes live on the heap and are reference counted.
        let key = Key(order: order, tag: "tag-\(step)-" + String(repeating: "x", count: step % 24))
        heap.insert(key)
        reference.insert(key)
      } else {
        let got = heap.removeMinimum()
        let expected = reference.removeMinimum()
        #expect(got?.order == expected?.order && got?.tag == expected?.tag)
        if got != nil { popped += 1 }
      }
      #expect(heap.minimum?.tag == reference.storage.first?.tag)
      // The whole layout now and then (every step would make the test quadratic).
      if step % 97 == 0 { #expect(heap.elements.map(\.tag) == reference.storage.map(\.tag)) }
    }
    #expect(heap.elements.map(\.tag) == reference.storage.map(\.tag))
    #expect(popped > 5_000)
  }

  @Test func removesInAscendingOrder() {
    var random = SplitMix64(seed: 7)
    var heap = MinHeap<Int>()
    var values: [Int] = []
    for _ in 0..<1_000 {
      let value = Int(random.next() % 10_000)
      values.append(value)
      heap.insert(value)
    }
    #expect(heap.count == 1_000)
    var drained: [Int] = []
    while let value = heap.removeMinimum() { drained.append(value) }
    #expect(drained == values.sorted())
    #expect(heap.removeMinimum() == nil && heap.minimum == nil && heap.count == 0)
  }

  @Test func oneElementAndEmpty() {
    var heap = MinHeap<Int>()
    #expect(heap.removeMinimum() == nil)
    heap.insert(5)
    #expect(heap.minimum == 5)
    #expect(heap.removeMinimum() == 5)
    #expect(heap.count == 0)
    heap.insert(3)
    heap.insert(1)
    heap.removeAll()
    #expect(heap.count == 0 && heap.minimum == nil)
  }
}

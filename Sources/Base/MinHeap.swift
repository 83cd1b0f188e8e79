/// A binary min-heap: the label joiner's expiry order, the trainer's batches by opening time.
/// Inlinable, so that callers in other modules get a copy specialized to their element.
public struct MinHeap<Element: Comparable & Sendable>: Sendable {
  /// The elements, in heap order (each no greater than its children).
  public var elements: [Element] { storage }
  /// The elements in heap order (`elements`), open to the inlined code.
  @usableFromInline var storage: [Element] = []

  /// An empty heap.
  @inlinable public init() {}

  /// Elements held.
  @inlinable public var count: Int { storage.count }
  /// The smallest element, if any.
  @inlinable public var minimum: Element? { storage.first }

  /// Adds `element`, O(log n).
  ///
  /// The sift moves elements into a hole rather than swapping them: the same comparisons and
  /// the same final order as swapping, with one move per level instead of a swap's three copies
  /// (for the joiner's keys, each copy of their `String` was a retain and a release).
  @inlinable public mutating func insert(_ element: Element) {
    storage.append(element)
    storage.withUnsafeMutableBufferPointer { buffer in
      let base = buffer.baseAddress!
      var child = buffer.count - 1
      let moving = (base + child).move()
      while child > 0 {
        let parent = (child - 1) / 2
        guard moving < base[parent] else { break }
        (base + child).moveInitialize(from: base + parent, count: 1)
        child = parent
      }
      (base + child).initialize(to: moving)
    }
  }

  /// Removes and returns the smallest element, O(log n). Sifts into a hole like `insert(_:)`.
  @inlinable @discardableResult
  public mutating func removeMinimum() -> Element? {
    guard !storage.isEmpty else { return nil }
    storage.swapAt(0, storage.count - 1)
    let smallest = storage.removeLast()
    storage.withUnsafeMutableBufferPointer { buffer in
      guard let base = buffer.baseAddress else { return }
      let count = buffer.count
      var parent = 0
      let moving = base.move()
      while true {
        let left = 2 * parent + 1
        let right = left + 1
        var smallestChild = parent
        if left < count && base[left] < moving { smallestChild = left }
        if right < count && base[right] < (smallestChild == parent ? moving : base[smallestChild]) {
          smallestChild = right
        }
        if smallestChild == parent { break }
        (base + parent).moveInitialize(from: base + smallestChild, count: 1)
        parent = smallestChild
      }
      (base + parent).initialize(to: moving)
    }
    return smallest
  }

  /// Removes every element.
  @inlinable public mutating func removeAll() { storage.removeAll() }
}

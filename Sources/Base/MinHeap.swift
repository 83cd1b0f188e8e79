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
  @inlinable public mutating func insert(_ element: Element) {
    storage.append(element)
    var child = storage.count - 1
    while child > 0 {
      let parent = (child - 1) / 2
      guard storage[child] < storage[parent] else { break }
      storage.swapAt(child, parent)
      child = parent
    }
  }

  /// Removes and returns the smallest element, O(log n).
  @inlinable @discardableResult
  public mutating func removeMinimum() -> Element? {
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

  /// Removes every element.
  @inlinable public mutating func removeAll() { storage.removeAll() }
}

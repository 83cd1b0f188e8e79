extension RandomAccessCollection where Element: Comparable {
  /// The first index whose element is not below `value`, in a collection sorted ascending
  /// (`endIndex` when every element is below it): a binary search, O(log n). Inlinable, so that
  /// callers in other modules get a copy specialized to their collection.
  @inlinable
  public func firstIndex(notBelow value: Element) -> Index {
    var low = startIndex
    var count = distance(from: startIndex, to: endIndex)
    while count > 0 {
      let half = count / 2
      let middle = index(low, offsetBy: half)
      if self[middle] < value {
        low = index(after: middle)
        count -= half + 1
      } else {
        count = half
      }
    }
    return low
  }
}

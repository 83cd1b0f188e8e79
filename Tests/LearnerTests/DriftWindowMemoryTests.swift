import Testing

@testable import Learner

/// The drift monitor's per-domain windows hold what a domain saw, up to the window, not a full
/// window from its first example.
@Suite struct DriftWindowMemoryTests {
  @Test func relevanceWindowGrowsWithItsExamplesUpToItsCapacity() {
    var window = DriftRelevanceWindow(capacity: 2000)
    #expect(window.slots.capacity == 0)
    for index in 0..<10 {
      window.append(DriftExample(kernelLoss: 0.5, backboneLoss: 0.6, label: Double(index % 2)))
    }
    #expect(window.slots.count == 30 && window.slots.capacity < 3 * 2000 / 10)
    for index in 10..<2500 {
      window.append(
        DriftExample(kernelLoss: Double(index), backboneLoss: 0.6, label: Double(index % 2)))
    }
    #expect(window.count == 2000 && window.slots.count == 3 * 2000)
    #expect(window.slots.capacity < 3 * 2000 + 16)
    // The ring still holds the newest 2,000, oldest first.
    #expect(window.examples.map(\.kernelLoss) == (500..<2500).map(Double.init))
    window.removeAll()
    #expect(window.count == 0 && window.examples.isEmpty)
    window.append(DriftExample(kernelLoss: 7, backboneLoss: 0.6, label: 1))
    #expect(window.examples.map(\.kernelLoss) == [7] && window.clickRate == 1)
  }

  @Test func servingGuardGrowsWithItsExamplesUpToItsWindow() {
    var guardWindow = ServingGuard(settings: ServingGuard.Settings(window: 300))
    #expect(guardWindow.slots.capacity == 0)
    for index in 0..<5 {
      _ = guardWindow.append(kernelLogit: Float(index), backboneLogit: 0, isPositive: false)
    }
    #expect(guardWindow.slots.count == 15 && guardWindow.slots.capacity < 3 * 300 / 10)
    for index in 5..<400 {
      _ = guardWindow.append(kernelLogit: Float(index), backboneLogit: 0, isPositive: false)
    }
    #expect(guardWindow.count == 300 && guardWindow.slots.capacity < 3 * 300 + 16)
    #expect(guardWindow.examples.kernel == (100..<400).map(Float.init))
    guardWindow.restart()
    _ = guardWindow.append(kernelLogit: 9, backboneLogit: 0, isPositive: true)
    #expect(guardWindow.examples.kernel == [9] && guardWindow.examples.labels == [true])
  }
}

import Testing

@testable import Checkpoint

@Suite struct CheckpointModuleTests {
  @Test func moduleIsNamed() {
    #expect(CheckpointModule.name == "Checkpoint")
  }
}

import Testing

@testable import Stream

@Suite struct StreamModuleTests {
  @Test func moduleIsNamed() {
    #expect(StreamModule.name == "Stream")
  }
}

import Testing

@testable import Service

@Suite struct ServiceModuleTests {
  @Test func moduleIsNamed() {
    #expect(ServiceModule.name == "Service")
  }
}

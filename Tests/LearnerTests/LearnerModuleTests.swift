import Testing

@testable import Learner

@Suite struct LearnerModuleTests {
  @Test func moduleIsNamed() {
    #expect(LearnerModule.name == "Learner")
  }
}

import Foundation
import Learner
import Observability
import Stream
import Synchronization
import Testing

@testable import Service

@Suite struct AlertEmitterTests {
  static let fired = DriftEvent(
    detector: .collapse, domain: "1998-03/east", transition: .fired, value: 0, threshold: 1e-4,
    window: DriftWindow(length: 100, unit: .steps), cause: .identity, kernelVersion: 3,
    step: 420, examplesSeen: 6720, eventTimeMs: 889_000_000_000)

  @Test func alertsGoToTheTopicTheLogAndTheMetrics() throws {
    let cluster = try MockKafkaCluster.make()
    try cluster.createTopic("iak-alerts", partitions: 1)
    let configuration = KafkaConfiguration(bootstrapServers: cluster.bootstrapServers)
    let producer = try KafkaProducer.make(configuration: configuration)
    let registry = MetricsRegistry()
    let emitter = AlertEmitter(
      producer: producer, topic: "iak-alerts", logger: .disabled, metrics: registry)
    try emitter.emit(Self.fired, action: .deactivate)
    #expect(
      registry.render().contains(
        #"iak_drift_active{domain="1998-03/east",detector="collapse"} 1"#))
    #expect(
      registry.render().contains(
        #"iak_alerts_total{domain="1998-03/east",detector="collapse"} 1"#))
    var cleared = Self.fired
    cleared.transition = .cleared
    try emitter.emit(cleared, action: .reactivate)
    #expect(
      registry.render().contains(
        #"iak_drift_active{domain="1998-03/east",detector="collapse"} 0"#))
    #expect(
      registry.render().contains(
        #"iak_drift_actions_total{domain="1998-03/east",action="deactivate"} 1"#))
    try producer.flush(timeout: .seconds(10))

    let records = try KafkaTopicReader.readAll(
      "iak-alerts", configuration: configuration, timeout: .seconds(10))
    #expect(records.count == 2)
    #expect(records.allSatisfy { $0.key == Array("1998-03/east".utf8) })
    let first = try #require(
      try JSONSerialization.jsonObject(with: Data(records[0].value)) as? [String: Any])
    #expect(first["schema"] as? String == "iak-alert/1")
    #expect(first["status"] as? String == "firing")
    #expect(first["detector"] as? String == "collapse")
    #expect(first["severity"] as? String == "warning")
    #expect(first["cause"] as? String == "identity")
    #expect(first["threshold"] as? Double == 1e-4)
    #expect(first["kernel_version"] as? Int == 3)
    #expect(first["event_time_ms"] as? Int == 889_000_000_000)
    #expect(first["action"] as? String == "deactivate")
    #expect((first["window"] as? [String: Any])?["unit"] as? String == "steps")
    let second = try #require(
      try JSONSerialization.jsonObject(with: Data(records[1].value)) as? [String: Any])
    #expect(second["status"] as? String == "resolved")
  }

  @Test func anActionCarriesItsDetailAndIsCountedOnce() throws {
    let document = AlertEmitter.document(
      for: Self.fired, action: .rollback, detail: "kernel version 2 restored \"as is\"")
    let object = try #require(
      try JSONSerialization.jsonObject(with: Data(document.utf8)) as? [String: Any])
    #expect(object["action"] as? String == "rollback")
    #expect(object["action_detail"] as? String == "kernel version 2 restored \"as is\"")
    let plain = try #require(
      try JSONSerialization.jsonObject(
        with: Data(AlertEmitter.document(for: Self.fired, action: .alert).utf8))
        as? [String: Any])
    #expect(plain["action_detail"] is NSNull)

    let registry = MetricsRegistry()
    let emitter = AlertEmitter(producer: nil, topic: "", logger: .disabled, metrics: registry)
    try emitter.emit(Self.fired, action: .rollback, detail: "restored")
    var harm = Self.fired
    harm.detector = .harm
    try emitter.emit(harm, action: .rollback, detail: "restored", countsAction: false)
    #expect(
      registry.render().contains(
        #"iak_drift_actions_total{domain="1998-03/east",action="rollback"} 1"#))
    #expect(
      registry.render().contains(#"iak_alerts_total{domain="1998-03/east",detector="harm"} 1"#))
  }
  @Test func aFiringIsLoggedAtItsDetectorsSeverity() throws {
    let lines = Mutex<[String]>([])
    let logger = Logger(label: "drift", level: .info) { line in lines.withLock { $0.append(line) } }
    let emitter = AlertEmitter(producer: nil, topic: "", logger: logger, metrics: nil)
    var shift = Self.fired
    shift.detector = .ctrDrift
    shift.cause = nil
    try emitter.emit(shift, action: .alert)
    var harm = Self.fired
    harm.detector = .harm
    harm.cause = nil
    try emitter.emit(harm, action: .deactivate)
    let logged = lines.withLock { $0 }
    #expect(logged.count == 2, "\(logged)")
    // A click-rate shift (severity info) is news; harm (critical) and collapse are warnings.
    #expect(DriftDetector.ctrDrift.severity == .info && DriftDetector.harm.severity == .critical)
    #expect(logged.first?.contains("level=info") == true, "\(logged)")
    #expect(logged.first?.contains("detector=ctr_drift") == true, "\(logged)")
    #expect(logged.last?.contains("level=warning") == true, "\(logged)")
    #expect(logged.last?.contains("detector=harm") == true, "\(logged)")
  }
}

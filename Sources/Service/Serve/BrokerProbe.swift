import Foundation
import Observability
import Stream

/// Asks the cluster for its topics every `interval` on a thread and client of its own, and
/// tells `HealthState` whether it answered: the consumer's lag figures are cached and would
/// freeze silently through an outage, and a request to a cluster that is down can block for as
/// long as the outage (librdkafka waits for a leader), which must hold up neither the consumer
/// nor the training thread.
final class BrokerProbe: Sendable {
  /// Whether `stop()` was called; the thread waits on it between requests.
  private let stopped = WaitableState(false)

  /// Starts probing the cluster of `configuration` every `interval` (the consumer and the
  /// producer already log the cluster's errors: the probe's own client logs nothing), and
  /// keeps `iak_kafka_cluster_reachable` in `metrics`: 1 when the last request was answered, 0
  /// when it failed (so a lag gauge frozen by an outage does not go unnoticed).
  init(
    configuration: KafkaConfiguration, health: HealthState, metrics: MetricsRegistry?,
    interval: Duration = .seconds(5)
  ) {
    let reachable = metrics?.gauge(
      "iak_kafka_cluster_reachable",
      help: "1 when the cluster answered the last request (asked every 5 s), 0 when it did not; "
        + "the lag figures are stale while it is 0."
    ).with()
    let thread = Thread.named("iak-probe") { [stopped] in
      // The client is the thread's: it outlives nothing else and nothing waits for it.
      guard let admin = try? KafkaAdmin.make(configuration: configuration) else {
        return
      }
      while !stopped.current {
        health.markProbeStarted()
        do throws(KafkaError) {
          _ = try admin.topicNames(timeout: .seconds(2))
          health.markBrokerReachable()
          reachable?.set(1)
        } catch {
          health.markBrokerUnreachable(error.description)
          reachable?.set(0)
        }
        stopped.wait(until: { $0 }, timeout: interval)
      }
    }
    thread.start()
  }

  /// Stops probing (the thread ends after the request in flight, if any).
  func stop() { stopped.update { $0 = true } }
}

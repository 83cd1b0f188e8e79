import Testing

@testable import Observability

@Suite struct MetricsRegistryTests {
  @Test func rendersCountersGaugesAndHistogramsInTextFormat() {
    let registry = MetricsRegistry()
    let rejected = registry.counter(
      "iak_events_rejected_total", help: "Rejected events.", labels: ["reason"])
    rejected.with("malformed_json").increment()
    rejected.with("malformed_json").increment(by: 2)
    rejected.with("bad \"quote\"").increment()
    registry.gauge("iak_kernels", help: "Kernels held.").with().set(7)
    let latency = registry.histogram(
      "iak_step_seconds", help: "Step time.", buckets: [0.5, 0.1])
    latency.with().observe(0.05)
    latency.with().observe(0.3)
    latency.with().observe(4)
    let expected = """
      # HELP iak_events_rejected_total Rejected events.
      # TYPE iak_events_rejected_total counter
      iak_events_rejected_total{reason="bad \\"quote\\""} 1
      iak_events_rejected_total{reason="malformed_json"} 3
      # HELP iak_kernels Kernels held.
      # TYPE iak_kernels gauge
      iak_kernels 7
      # HELP iak_step_seconds Step time.
      # TYPE iak_step_seconds histogram
      iak_step_seconds_bucket{le="0.1"} 1
      iak_step_seconds_bucket{le="0.5"} 2
      iak_step_seconds_bucket{le="+Inf"} 3
      iak_step_seconds_sum 4.35
      iak_step_seconds_count 3

      """
    #expect(registry.render() == expected)
  }

  @Test func removingSeriesByLabelDropsThemInEveryFamilyAndNothingElse() {
    let registry = MetricsRegistry()
    let active = registry.gauge("iak_a", help: "A.", labels: ["domain", "detector"])
    let total = registry.counter("iak_b", help: "B.", labels: ["detector", "domain"])
    let other = registry.counter("iak_c", help: "C.", labels: ["region"])
    active.with("1998-01/east", "harm").set(1)
    active.with("1998-01/east", "collapse").set(1)
    active.with("1998-02/east", "harm").set(1)
    total.with("harm", "1998-01/east").increment()
    total.with("1998-01/east", "1998-02/east").increment(by: 2)
    other.with("1998-01/east").increment()
    registry.removeSeries(where: "domain", is: "1998-01/east")
    let expected = """
      # HELP iak_a A.
      # TYPE iak_a gauge
      iak_a{domain="1998-02/east",detector="harm"} 1
      # HELP iak_b B.
      # TYPE iak_b counter
      iak_b{detector="1998-01/east",domain="1998-02/east"} 2
      # HELP iak_c C.
      # TYPE iak_c counter
      iak_c{region="1998-01/east"} 1

      """
    #expect(registry.render() == expected)
    // A series asked for again starts afresh.
    active.with("1998-01/east", "harm").set(0)
    #expect(registry.render().contains("iak_a{domain=\"1998-01/east\",detector=\"harm\"} 0"))
  }

  @Test func sameNameReturnsSameFamily() {
    let registry = MetricsRegistry()
    registry.counter("iak_a_total", help: "A.").with().increment()
    registry.counter("iak_a_total", help: "A.").with().increment()
    #expect(registry.counter("iak_a_total", help: "A.").with().value == 2)
  }
}

import Observability

/// The domain router's metric series, looked up once.
struct RouterMetrics: Sendable {
  let fallbacks: [DomainRouter.FallbackReason: Metric]
  let domains: Metric

  init(registry: MetricsRegistry) {
    let family = registry.counter(
      "iak_router_fallback_total", help: "Examples routed to the fallback region, by reason.",
      labels: ["reason"])
    fallbacks = Dictionary(
      uniqueKeysWithValues: DomainRouter.FallbackReason.allCases.map {
        ($0, family.with($0.rawValue))
      })
    domains = registry.gauge("iak_router_domains", help: "Domains routed to so far.").with([])
  }
}

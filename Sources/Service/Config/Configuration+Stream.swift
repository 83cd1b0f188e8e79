import Stream

extension Configuration {
  /// The event shape from `event.*` and `domain.region_field`.
  public var eventSchema: EventSchema {
    let event = settings.event
    return EventSchema(
      typeField: event.typeField, idField: event.idField,
      timeField: event.timeField, regionField: settings.domain.regionField,
      labelField: event.labelField, featuresField: event.featuresField,
      syntheticField: event.syntheticField,
      impressionType: event.impressionType, clickType: event.clickType,
      categoricalFields: event.categoricalFields,
      numericFeatures: Set(event.numericFields),
      maxEventBytes: event.maxBytes, maxDepth: event.maxDepth)
  }

  /// The label joiner's settings from `label.*`.
  public var joinerConfiguration: LabelJoiner.Configuration {
    let label = settings.label
    return LabelJoiner.Configuration(
      waitMilliseconds: label.wait.wholeMilliseconds,
      maxOutOfOrdernessMilliseconds: label.maxOutOfOrderness.wholeMilliseconds,
      maxPending: label.maxPending, maxPendingBytes: label.maxPendingBytes,
      releasesInImpressionOrder: label.release == .inOrder,
      maxFutureMilliseconds: Self.bound(settings.event.maxFuture),
      maxPastMilliseconds: Self.bound(settings.event.maxPast),
      maxNewDomainsPerDay: settings.domain.maxNewPerDay, mode: label.mode,
      observationWindowMilliseconds: label.window.wholeMilliseconds)
  }

  /// A duration bound in milliseconds, 0 meaning none (`Int64.max`).
  private static func bound(_ duration: Duration) -> Int64 {
    let value = duration.wholeMilliseconds
    return value == 0 ? .max : value
  }

  /// The domain router's settings from `domain.*`.
  ///
  /// - Throws: `ConfigError` for a router the settings cannot give; none can today, since
  ///   `domain.window` and `domain.region_map` are checked when they are set.
  public func routerConfiguration() throws(ConfigError) -> DomainRouter.Configuration {
    let domain = settings.domain
    return DomainRouter.Configuration(
      window: domain.window, regionMap: domain.regionMap, fallbackRegion: domain.fallbackRegion,
      maxRegions: domain.maxRegions)
  }
}

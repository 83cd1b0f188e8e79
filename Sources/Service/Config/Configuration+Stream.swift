import Stream

extension Configuration {
  /// The event shape from `event.*` and `domain.region_field`.
  public var eventSchema: EventSchema {
    EventSchema(
      typeField: string("event.type_field"), idField: string("event.id_field"),
      timeField: string("event.time_field"), regionField: string("domain.region_field"),
      labelField: string("event.label_field"), featuresField: string("event.features_field"),
      syntheticField: string("event.synthetic_field"),
      impressionType: string("event.impression_type"), clickType: string("event.click_type"),
      categoricalFields: list("event.categorical_fields"),
      numericFeatures: Set(list("event.numeric_fields")),
      maxEventBytes: bytes("event.max_bytes"), maxDepth: int("event.max_depth"))
  }

  /// The label joiner's settings from `label.*`.
  public var joinerConfiguration: LabelJoiner.Configuration {
    LabelJoiner.Configuration(
      waitMilliseconds: milliseconds("label.wait"),
      maxOutOfOrdernessMilliseconds: milliseconds("label.max_out_of_orderness"),
      maxPending: int("label.max_pending"), maxPendingBytes: bytes("label.max_pending_bytes"),
      releasesInImpressionOrder: string("label.release") == "in_order",
      maxFutureMilliseconds: bound("event.max_future"),
      maxPastMilliseconds: bound("event.max_past"),
      maxNewDomainsPerDay: int("domain.max_new_per_day"))
  }

  /// A duration bound in milliseconds, 0 meaning none (`Int64.max`).
  private func bound(_ key: String) -> Int64 {
    let value = milliseconds(key)
    return value == 0 ? .max : value
  }

  /// The domain router's settings from `domain.*`.
  ///
  /// - Throws: `ConfigError` at the key whose window or region map does not parse.
  public func routerConfiguration() throws(ConfigError) -> DomainRouter.Configuration {
    let window: DomainWindow
    do {
      window = try DomainWindow(parsing: string("domain.window"))
    } catch {
      throw ConfigError(location: origins["domain.window"] ?? "domain.window", message: "\(error)")
    }
    var regionMap: DomainRegionMap?
    let mapText = list("domain.region_map").joined(separator: ",")
    if !mapText.isEmpty {
      do {
        regionMap = try DomainRegionMap(parsing: mapText)
      } catch {
        throw ConfigError(
          location: origins["domain.region_map"] ?? "domain.region_map", message: "\(error)")
      }
    }
    return DomainRouter.Configuration(
      window: window, regionMap: regionMap, fallbackRegion: string("domain.fallback_region"),
      maxRegions: int("domain.max_regions"))
  }
}

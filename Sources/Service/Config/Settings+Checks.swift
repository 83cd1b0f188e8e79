import Stream

extension Settings {
  /// What is wrong with `value` for `key` beyond its `ConfigKind`, for the keys whose typed
  /// field needs more than their kind checks (a window, a region map, layer widths, a layer
  /// name); nil when it reads.
  static func problem(key: String, value: String) -> String? {
    switch key {
    case "domain.window":
      do {
        _ = try DomainWindow(parsing: value)
      } catch {
        return "\(error)"
      }
    case "domain.region_map":
      let joined = ConfigValueParser.list(value).joined(separator: ",")
      guard !joined.isEmpty else { return nil }
      do {
        _ = try DomainRegionMap(parsing: joined)
      } catch {
        return "\(error)"
      }
    case "backbone.hidden":
      for text in ConfigValueParser.list(value) where (Int(text) ?? 0) <= 0 {
        return "'backbone.hidden' expects positive widths such as '128, 64', got '\(text)'"
      }
    case "iak.insert_at":
      if IAK.InsertAt(name: value) == nil {
        return "'iak.insert_at' expects 'embedding', 'hidden1'..'hiddenL' or 'last', got "
          + "'\(value)'"
      }
    default: break
    }
    return nil
  }
}

import Base
import Observability

extension Event {
  /// Encodes the event as one line of JSON (no newline) in the shape `schema` describes.
  ///
  /// Categorical features named in `schema.categoricalFields` are written at the top level, the
  /// rest and every numeric feature (sorted by name) inside the features object. Decoding the
  /// line with the same schema gives back an equal event.
  public func jsonLine(schema: EventSchema = EventSchema()) -> String {
    var out = "{"
    out += JSONText.quote(schema.typeField) + ":"
    out += JSONText.quote(kind == .impression ? schema.impressionType : schema.clickType)
    out += "," + JSONText.quote(schema.idField) + ":" + JSONText.quote(id)
    out += "," + JSONText.quote(schema.timeField) + ":" + String(timeMilliseconds)
    if let region {
      out += "," + JSONText.quote(schema.regionField) + ":" + JSONText.quote(region)
    }
    var nested: [String] = []
    for feature in categorical {
      let member = JSONText.quote(feature.name) + ":" + JSONText.quote(feature.value)
      if schema.categoricalFields.contains(feature.name) {
        out += "," + member
      } else {
        nested.append(member)
      }
    }
    for name in numeric.keys.sorted() {
      nested.append(JSONText.quote(name) + ":" + JSONText.number(numeric[name]!))
    }
    if !nested.isEmpty {
      out += "," + JSONText.quote(schema.featuresField) + ":{" + nested.joined(separator: ",") + "}"
    }
    if kind == .impression, let label {
      out += "," + JSONText.quote(schema.labelField) + ":" + (label ? "1" : "0")
    }
    if isSynthetic { out += "," + JSONText.quote(schema.syntheticField) + ":true" }
    out += "}"
    return out
  }
}

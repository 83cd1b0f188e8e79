import Learner
import Stream

/// Turns a labelled impression (Stream's world) into the Learner's `Example`: one categorical
/// value per backbone field, in the backbone's field order, and the declared numeric features.
public struct ExampleAssembler: Sendable {
  /// The backbone's categorical fields, in order.
  public let fields: [String]
  /// The backbone's numeric fields, in order.
  public let numericFields: [String]

  /// Creates an assembler for a backbone of this shape.
  public init(backbone: BackboneConfig) {
    fields = backbone.fields
    numericFields = backbone.numericFields
  }

  /// The example for `impression` in `domain`, on the event-time clock `lane` (its input
  /// partition); a feature the event lacks is "" (or 0 when
  /// numeric), which the backbone hashes like any other value.
  public func example(for impression: Event, label: Bool, domain: String, lane: Int32 = 0)
    -> Example
  {
    Example(
      domain: domain, categorical: fields.map { impression.feature($0) ?? "" },
      numeric: numericFields.map { Float(impression.numeric[$0] ?? 0) },
      label: label ? 1 : 0, eventTimeMs: impression.timeMilliseconds, lane: lane)
  }
}

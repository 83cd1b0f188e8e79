import Observability

/// A drift detector of one domain started or stopped firing.
///
/// `value` is what crossed `threshold`: the relative decoder norm, the batch variance of mu or the
/// active units (fire below or at the threshold), the kernel's `H(Y) - CE` in bits against the
/// backbone's minus the margin (fires below), `E[KL]` in nats (fires above), or the Page-Hinkley
/// statistic in standard deviations (fires above). On a clearing they are the values then.
public struct DriftEvent: Sendable, Equatable, CustomStringConvertible {
  /// The detector.
  public var detector: DriftDetector
  /// The domain.
  public var domain: String
  /// Whether the detector started or stopped firing.
  public var transition: DriftTransition
  /// The monitored value (see the type's documentation for its unit).
  public var value: Double
  /// The threshold it was compared with.
  public var threshold: Double
  /// The stretch of the stream the decision rests on: the steps the condition held (or was
  /// false), the examples of the harm window, or the examples the Page-Hinkley test had seen.
  public var window: DriftWindow
  /// For `collapse`, the signal whose firing or clearing caused this event; nil otherwise.
  public var cause: DriftDetector?
  /// The version of the kernel that was observed.
  public var kernelVersion: Int
  /// The kernel's optimiser steps at the observation.
  public var step: Int
  /// The domain's valid examples seen when the event happened: for the example detectors the
  /// example that caused it, for the kernel detectors those before the observation's examples.
  public var examplesSeen: Int
  /// Event time of the observation's newest example, in milliseconds since the Unix epoch.
  public var eventTimeMs: Int64

  /// Creates an event; see the properties.
  public init(
    detector: DriftDetector, domain: String, transition: DriftTransition, value: Double,
    threshold: Double, window: DriftWindow, cause: DriftDetector? = nil, kernelVersion: Int,
    step: Int, examplesSeen: Int, eventTimeMs: Int64
  ) {
    self.detector = detector
    self.domain = domain
    self.transition = transition
    self.value = value
    self.threshold = threshold
    self.window = window
    self.cause = cause
    self.kernelVersion = kernelVersion
    self.step = step
    self.examplesSeen = examplesSeen
    self.eventTimeMs = eventTimeMs
  }

  /// One line for the log, e.g. "harm fired in 1998-03/5: value -0.0412 vs threshold 0.0123
  /// over 2000 examples (kernel version 12, step 880, example 28160, event time
  /// 889000000000 ms)".
  public var description: String {
    var text = "\(detector.rawValue) \(transition.rawValue) in \(domain): value "
    text += "\(Logger.figure(value)) vs threshold \(Logger.figure(threshold)) over \(window)"
    if let cause { text += " (cause \(cause.rawValue))" }
    text += " (kernel version \(kernelVersion), step \(step), example \(examplesSeen), "
    text += "event time \(eventTimeMs) ms)"
    return text
  }
}

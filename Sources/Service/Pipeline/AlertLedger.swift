import Learner

/// The drift alerts of a pipeline's run: every one raised with what was done about it, how many
/// a snapshot already records, and those waiting for a checkpoint to be sent.
struct AlertLedger {
  /// Drift events raised so far in this run (only those since the last snapshot when
  /// `keepsHistory` is false).
  private(set) var events: [DriftEvent] = []
  /// What was done about each of `events` (same order and count).
  private(set) var outcomes: [DriftActionOutcome] = []
  /// How many of `events` a snapshot already records.
  private var inSnapshots = 0
  /// Whether `events` keeps every alert of the run (a replay's summary lists them all) or drops
  /// those a snapshot has recorded (serve: months of alerts would otherwise stay in memory; the
  /// snapshots, the alerts topic and the log hold them).
  var keepsHistory = true
  /// Whether alerts wait for the next checkpoint to be sent (`serve` with a state topic).
  var defers = false
  /// Alerts waiting for the next checkpoint (`defers`).
  var waiting: [DeferredAlert] = []

  /// Records `event` and what was done about it; returns the alert to send now, or nil when it
  /// waits for the next checkpoint.
  mutating func record(_ event: DriftEvent, outcome: DriftActionOutcome, alert: DeferredAlert)
    -> DeferredAlert?
  {
    events.append(event)
    outcomes.append(outcome)
    guard defers else { return alert }
    waiting.append(alert)
    return nil
  }

  /// The events no snapshot records yet, each with its outcome, oldest first.
  var sinceLastSnapshot: [(event: DriftEvent, outcome: DriftActionOutcome?)] {
    (min(inSnapshots, events.count)..<events.count).map {
      (events[$0], $0 < outcomes.count ? outcomes[$0] : nil)
    }
  }

  /// Notes that a snapshot records every event so far (and forgets them without `keepsHistory`).
  mutating func snapshotWritten() {
    inSnapshots = events.count
    guard !keepsHistory else { return }
    events.removeAll(keepingCapacity: true)
    outcomes.removeAll(keepingCapacity: true)
    inSnapshots = 0
  }

  /// Drops the waiting alerts of `domains` (their partition moved: the new owner raises them).
  mutating func dropWaiting(of domains: Set<String>) {
    waiting.removeAll { domains.contains($0.event.domain) }
  }
}

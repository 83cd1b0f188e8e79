import Foundation
import Learner
import Observability
import Stream

extension FreshnessLog: TrainingObserver {
  /// Keeps the chunk (and, with `measuresProduceTime`, its records' timestamps, and how long
  /// they took from production to the poll) until the snapshot that covers it is published,
  /// and moves the span's end.
  func trained(
    _ records: [DecodedRecord], arrivedAt arrival: ContinuousClock.Instant,
    at instant: ContinuousClock.Instant
  ) {
    let measuresProduceTime = measuresProduceTime
    // The poll on the wall clock, to compare with the records' timestamps.
    let arrivalMilliseconds =
      Date().timeIntervalSince1970 * 1000 - (ContinuousClock.now - arrival).inSeconds * 1000
    // This chunk's records by timestamp (runs of one timestamp counted together).
    var production: [(milliseconds: Int64, records: Int)] = []
    state.withLock { state in
      state.unpublishedArrivals.append((arrival, instant, records.count))
      if state.span.firstArrival == nil { state.span.firstArrival = arrival }
      state.span.lastProcessed = instant
      guard measuresProduceTime else { return }
      for record in records {
        guard let timestamp = record.timestampMs else { continue }
        if state.unpublishedTimestamps.last?.milliseconds == timestamp {
          state.unpublishedTimestamps[state.unpublishedTimestamps.count - 1].records += 1
        } else {
          state.unpublishedTimestamps.append((timestamp, 1))
        }
        if production.last?.milliseconds == timestamp {
          production[production.count - 1].records += 1
        } else {
          production.append((timestamp, 1))
        }
      }
    }
    for sample in production {
      record(
        seconds: (arrivalMilliseconds - Double(sample.milliseconds)) / 1000,
        records: sample.records, in: .production)
    }
  }

  /// Records the waits of everything trained since the previous publication, from its poll and
  /// from its timestamp, their parts, the checkpoint's steps and what the domains hold.
  func published(
    at instant: ContinuousClock.Instant, milliseconds: Int64,
    checkpointStartedAt started: ContinuousClock.Instant, timings: CheckpointTimings,
    domainMemory: DomainMemory
  ) {
    let limit = limit
    let (arrivals, timestamps, impressions) = state.withLock { state in
      defer {
        state.unpublishedArrivals.removeAll(keepingCapacity: true)
        state.unpublishedTimestamps.removeAll(keepingCapacity: true)
        state.unpublishedImpressionTimes.removeAll(keepingCapacity: true)
      }
      Self.append(timings, to: &state.checkpoints, limit: limit)
      state.domainMemory = domainMemory
      return (
        state.unpublishedArrivals, state.unpublishedTimestamps, state.unpublishedImpressionTimes
      )
    }
    for time in impressions {
      record(seconds: Double(milliseconds - time) / 1000, records: 1, from: .impression)
    }
    for arrival in arrivals {
      record(seconds: (instant - arrival.instant).inSeconds, records: arrival.records)
      record(
        seconds: (arrival.trained - arrival.instant).inSeconds, records: arrival.records,
        in: .training)
      record(
        seconds: max(0, (started - arrival.trained).inSeconds), records: arrival.records,
        in: .interval)
      record(
        seconds: (instant - max(started, arrival.trained)).inSeconds, records: arrival.records,
        in: .checkpoint)
    }
    for batch in timestamps {
      record(
        seconds: Double(milliseconds - batch.milliseconds) / 1000, records: batch.records,
        from: .produce)
    }
    notePublication(at: instant, checkpointSeconds: (instant - started).inSeconds)
  }

  /// Keeps the event times until the next publication, and records their wait so far (event
  /// times are wall-clock production times in the label-mode runs).
  func trainedImpressions(eventTimesMs: [Int64]) {
    state.withLock { $0.unpublishedImpressionTimes.append(contentsOf: eventTimesMs) }
    let now = Date().timeIntervalSince1970 * 1000
    for time in eventTimesMs {
      record(seconds: (now - Double(time)) / 1000, records: 1, from: .impressionTrained)
    }
  }
}

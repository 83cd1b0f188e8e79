import Observability
import Stream

extension FreshnessLog: TrainingObserver {
  /// Keeps the chunk (and, with `measuresProduceTime`, its records' timestamps) until the
  /// snapshot that covers it is published, and moves the span's end.
  func trained(
    _ records: [DecodedRecord], arrivedAt arrival: ContinuousClock.Instant,
    at instant: ContinuousClock.Instant
  ) {
    let measuresProduceTime = measuresProduceTime
    state.withLock { state in
      state.unpublishedArrivals.append((arrival, records.count))
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
      }
    }
  }

  /// Records the waits of everything trained since the previous publication, from its poll and
  /// from its timestamp.
  func published(
    at instant: ContinuousClock.Instant, milliseconds: Int64, checkpointSeconds: Double
  ) {
    let (arrivals, timestamps, impressions) = state.withLock { state in
      defer {
        state.unpublishedArrivals.removeAll(keepingCapacity: true)
        state.unpublishedTimestamps.removeAll(keepingCapacity: true)
        state.unpublishedImpressionTimes.removeAll(keepingCapacity: true)
      }
      return (
        state.unpublishedArrivals, state.unpublishedTimestamps, state.unpublishedImpressionTimes
      )
    }
    for time in impressions {
      record(seconds: Double(milliseconds - time) / 1000, records: 1, from: .impression)
    }
    for arrival in arrivals {
      record(seconds: (instant - arrival.instant).inSeconds, records: arrival.records)
    }
    for batch in timestamps {
      record(
        seconds: Double(milliseconds - batch.milliseconds) / 1000, records: batch.records,
        from: .produce)
    }
    notePublication(at: instant, checkpointSeconds: checkpointSeconds)
  }

  /// Keeps the event times until the next publication.
  func trainedImpressions(eventTimesMs: [Int64]) {
    state.withLock { $0.unpublishedImpressionTimes.append(contentsOf: eventTimesMs) }
  }
}

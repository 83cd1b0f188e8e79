import Foundation
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// GET on loopback for the tests that read what serve, the metrics server or Prometheus answer.
public enum HTTPGet {
  /// The status, body and content type of the answer to a GET of `url` (waits up to 10 s).
  public static func fetch(_ url: String) throws -> (Int, String, String?) {
    let done = DispatchSemaphore(value: 0)
    let result = LockedBox<(Int, String, String?)>((0, "", nil))
    let task = URLSession.shared.dataTask(with: URL(string: url)!) { data, response, _ in
      let http = response as? HTTPURLResponse
      result.set(
        (
          http?.statusCode ?? 0, data.map { String(decoding: $0, as: UTF8.self) } ?? "",
          http?.value(forHTTPHeaderField: "Content-Type")
        ))
      done.signal()
    }
    task.resume()
    #expect(done.wait(timeout: .now() + 10) == .success)
    return result.get()
  }
}

/// A value shared between threads behind a lock.
public final class LockedBox<Value: Sendable>: @unchecked Sendable {
  private let lock = NSLock()
  private var value: Value
  /// Holds `value`.
  public init(_ value: Value) { self.value = value }
  /// Replaces the value.
  public func set(_ newValue: Value) { lock.withLock { value = newValue } }
  /// The value.
  public func get() -> Value { lock.withLock { value } }
}

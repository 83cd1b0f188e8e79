import Foundation
import TestSupport

@testable import Learner

/// A small loader of the MovieLens 100k files for tests and benchmarks (the service's real event
/// path lives elsewhere). Label = rating >= 4; domain = month x first digit of the zip code.
enum MovieLens {
  static let directory = MovieLensFixture.directory.path

  /// 1998-01-01T00:00:00Z.
  static let cutoffSeconds: Int64 = 883_612_800

  static let fields = [
    "user", "item", "age", "gender", "occupation", "zip", "zip_region", "year", "genres",
  ]

  static var isAvailable: Bool {
    FileManager.default.fileExists(atPath: directory + "/ml-100k.inter")
  }

  static func rows(_ name: String) throws -> [[String]] {
    let text = try String(contentsOfFile: directory + "/" + name, encoding: .utf8)
    return text.split(separator: "\n").dropFirst().map {
      $0.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    }
  }

  /// Every rating as an example, in time order.
  static func examples() throws -> [Example] {
    var users: [String: [String]] = [:]
    for row in try rows("ml-100k.user") where row.count >= 5 { users[row[0]] = row }
    var items: [String: [String]] = [:]
    for row in try rows("ml-100k.item") where row.count >= 4 { items[row[0]] = row }
    var result: [Example] = []
    for row in try rows("ml-100k.inter") where row.count >= 4 {
      guard let rating = Double(row[2]), let seconds = Double(row[3]) else { continue }
      let user = users[row[0]] ?? []
      let item = items[row[1]] ?? []
      let zip = user.count > 4 ? user[4] : ""
      let region = String(zip.prefix(1))
      let time = Int64(seconds)
      let date = Date(timeIntervalSince1970: TimeInterval(time))
      var calendar = Calendar(identifier: .gregorian)
      calendar.timeZone = TimeZone(identifier: "UTC")!
      let parts = calendar.dateComponents([.year, .month], from: date)
      let domain = String(format: "%04d-%02d/%@", parts.year ?? 0, parts.month ?? 0, region)
      let categorical = [
        row[0], row[1], user.count > 1 ? user[1] : "", user.count > 2 ? user[2] : "",
        user.count > 3 ? user[3] : "", zip, region, item.count > 2 ? item[2] : "",
        item.count > 3 ? item[3] : "",
      ]
      result.append(
        Example(
          domain: domain, categorical: categorical, label: rating >= 4 ? 1 : 0,
          eventTimeMs: time * 1000))
    }
    // A stable sort keeps the file order among equal timestamps.
    return result.enumerated().sorted {
      ($0.element.eventTimeMs, $0.offset) < ($1.element.eventTimeMs, $1.offset)
    }.map(\.element)
  }

  static func backboneConfig() -> BackboneConfig {
    BackboneConfig(fields: fields, buckets: 8192, embeddingDim: 16, hiddenSizes: [128, 64])
  }
}

import HTTP

extension HTTPPost {
  /// Parses the `alert.webhook` URL.
  ///
  /// - Throws: `UsageError` naming `alert.webhook` when the URL is not `http://host[:port]/path`.
  public init(webhookURL url: String) throws(UsageError) {
    do {
      try self.init(url: url, setting: "alert.webhook")
    } catch {
      throw UsageError(error.message)
    }
  }
}

/// Takes credentials out of text before it reaches a log line, an error or a printed
/// configuration.
public enum Redaction {
  /// What replaces a hidden part.
  public static let mask = "********"

  /// `url` with its user information (`user:password@`) and its query string (`?token=...`)
  /// replaced by the mask, e.g. `http://********@host:9093/hook?********`; text that is not a
  /// URL keeps only its query masked.
  public static func url(_ url: String) -> String {
    var text = Substring(url)
    var result = ""
    if let scheme = text.range(of: "://") {
      result += text[..<scheme.upperBound]
      text = text[scheme.upperBound...]
      let authorityEnd = text.firstIndex { $0 == "/" || $0 == "?" || $0 == "#" } ?? text.endIndex
      let authority = text[..<authorityEnd]
      if let at = authority.lastIndex(of: "@") {
        result += mask + "@" + authority[authority.index(after: at)...]
      } else {
        result += authority
      }
      text = text[authorityEnd...]
    }
    if let question = text.firstIndex(of: "?") {
      result += text[...question] + mask
    } else {
      result += text
    }
    return result
  }
}

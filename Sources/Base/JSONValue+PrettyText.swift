extension JSONValue {
  /// Indented JSON text of the value, members in their stored order, laid out as Foundation's
  /// `JSONSerialization` lays out `.prettyPrinted` (two spaces a level, `"key" : value`, an empty
  /// array or object as an empty line), so that files written that way keep their bytes.
  public var prettyText: String {
    var out = ""
    writePretty(into: &out, indent: 0)
    return out
  }

  private func writePretty(into out: inout String, indent: Int) {
    let inner = String(repeating: " ", count: indent + 2)
    switch self {
    case .array(let elements):
      out += "[\n"
      for (index, element) in elements.enumerated() {
        out += (index == 0 ? "" : ",\n") + inner
        element.writePretty(into: &out, indent: indent + 2)
      }
      out += "\n" + String(repeating: " ", count: indent) + "]"
    case .object(let members):
      out += "{\n"
      for (index, member) in members.enumerated() {
        out += (index == 0 ? "" : ",\n") + inner + JSONText.quote(member.key) + " : "
        member.value.writePretty(into: &out, indent: indent + 2)
      }
      out += "\n" + String(repeating: " ", count: indent) + "}"
    default:
      out += text
    }
  }
}

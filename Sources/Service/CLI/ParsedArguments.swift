/// The options and positional words given to one command.
public struct ParsedArguments: Sendable, Equatable {
  /// Values of options that take one, in the order given.
  public private(set) var values: [String: [String]] = [:]
  /// Flags that were given.
  public private(set) var flags: Set<String> = []
  /// Words that are not options, in order.
  public private(set) var positionals: [String] = []

  /// Parses `arguments` against `options`: `--name value`, `--name=value`, flags, and `--` to
  /// end options.
  ///
  /// - Throws: `UsageError` for an unknown option (with the closest known one), a missing
  ///   value, a value given to a flag, or a non-repeatable option given twice.
  public static func parse(_ arguments: [String], options: [OptionSpec]) throws(UsageError)
    -> ParsedArguments
  {
    var parsed = ParsedArguments()
    var index = 0
    var optionsEnded = false
    while index < arguments.count {
      let word = arguments[index]
      index += 1
      if optionsEnded || !word.hasPrefix("-") || word == "-" {
        parsed.positionals.append(word)
        continue
      }
      if word == "--" {
        optionsEnded = true
        continue
      }
      var name = word
      var inlineValue: String?
      if let equals = word.firstIndex(of: "=") {
        name = String(word[..<equals])
        inlineValue = String(word[word.index(after: equals)...])
      }
      if name == "-h" { name = "--help" }
      guard let spec = options.first(where: { $0.name == name }) else {
        var message = "unknown option '\(name)'"
        let names = options.map(\.name)
        if let best = names.min(by: {
          EditDistance.between(name, $0) < EditDistance.between(name, $1)
        }), EditDistance.between(name, best) <= 3 {
          message += " (did you mean '\(best)'?)"
        }
        throw UsageError(message + "; see --help")
      }
      if spec.valueName == nil {
        if inlineValue != nil { throw UsageError("option '\(name)' takes no value") }
        parsed.flags.insert(name)
        continue
      }
      let value: String
      if let inlineValue {
        value = inlineValue
      } else {
        guard index < arguments.count else {
          throw UsageError("option '\(name)' needs a value: \(name) \(spec.valueName!)")
        }
        value = arguments[index]
        index += 1
      }
      if !spec.isRepeatable && parsed.values[name] != nil {
        throw UsageError("option '\(name)' is given twice; give it once")
      }
      parsed.values[name, default: []].append(value)
    }
    return parsed
  }

  /// The value of an option, if given.
  public func value(_ name: String) -> String? { values[name]?.last }

  /// Every value of a repeatable option.
  public func all(_ name: String) -> [String] { values[name] ?? [] }

  /// Whether a flag was given.
  public func has(_ flag: String) -> Bool { flags.contains(flag) }

  /// The value of an option that must be given.
  ///
  /// - Throws: `UsageError` naming the option when it is missing.
  public func required(_ name: String) throws(UsageError) -> String {
    guard let value = value(name) else { throw UsageError("missing required option \(name)") }
    return value
  }

  /// An integer option, or `defaultValue` when absent.
  ///
  /// - Throws: `UsageError` when the value is not a whole number in `range`.
  public func int(
    _ name: String, default defaultValue: Int, in range: ClosedRange<Int> = 0...Int.max
  )
    throws(UsageError) -> Int
  {
    guard let text = value(name) else { return defaultValue }
    guard let number = Int(text), range.contains(number) else {
      throw UsageError(
        "option \(name) expects a whole number from \(range.lowerBound) to \(range.upperBound), "
          + "got '\(text)'")
    }
    return number
  }

  /// A real-number option, or `defaultValue` when absent.
  ///
  /// - Throws: `UsageError` when the value is not a finite number greater than zero.
  public func positiveDouble(_ name: String, default defaultValue: Double?) throws(UsageError)
    -> Double?
  {
    guard let text = value(name) else { return defaultValue }
    guard let number = Double(text), number.isFinite, number > 0 else {
      throw UsageError("option \(name) expects a number greater than 0, got '\(text)'")
    }
    return number
  }
}

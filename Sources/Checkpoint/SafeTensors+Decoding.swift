import Base

/// Decoding of safetensors bytes, validating everything before a tensor is built.
extension SafeTensors {
  /// Decodes a complete safetensors file.
  ///
  /// Refuses, with a `SafeTensorsError` that says what and where: a file shorter than its header
  /// length or its data offsets (`.truncated`); a header that is not UTF-8 JSON, not an object,
  /// has duplicate keys, malformed entries or non-string metadata (`.invalidHeader`); a dtype
  /// other than those of `TensorDType` (`.unknownDType`); a shape whose element count times the
  /// dtype's width differs from its byte range (`.invalidShape`); and data offsets that overlap,
  /// leave gaps or leave bytes after the last tensor (`.invalidOffsets`). It never traps.
  public static func decode(_ bytes: [UInt8]) throws -> SafeTensors {
    guard bytes.count >= 8 else {
      throw SafeTensorsError(
        .truncated,
        "file is \(bytes.count) bytes; a safetensors file starts with an 8-byte header length")
    }
    let declared = bytes.withUnsafeBytes { UInt64(littleEndian: $0.loadUnaligned(as: UInt64.self)) }
    let available = bytes.count - 8
    guard declared <= UInt64(available) else {
      throw SafeTensorsError(
        .truncated,
        "header length \(declared) exceeds the \(available) bytes after the length field; "
          + "the file is truncated or not safetensors")
    }
    let headerLength = Int(declared)
    let header = Array(bytes[8..<(8 + headerLength)])
    guard header.first == UInt8(ascii: "{") else {
      throw SafeTensorsError(
        .invalidHeader, "header (bytes 8..<\(8 + headerLength)) does not start with '{'")
    }
    let json: JSONValue
    do {
      json = try JSONValue.parse(header)
    } catch {
      throw SafeTensorsError(
        .invalidHeader, "header JSON at file byte \(8 + error.offset): \(error.message)")
    }
    guard let members = json.members else {
      throw SafeTensorsError(.invalidHeader, "header is not a JSON object")
    }

    let dataStart = 8 + headerLength
    let dataLength = bytes.count - dataStart
    var metadata: [String: String] = [:]
    var entries: [(name: String, entry: Entry)] = []
    for (key, value) in members {
      if key == metadataKey {
        metadata = try decodeMetadata(value)
      } else {
        entries.append((key, try Entry(name: key, json: value, dataLength: dataLength)))
      }
    }

    entries.sort { ($0.entry.begin, $0.entry.end) < ($1.entry.begin, $1.entry.end) }
    var expectedBegin = 0
    var previous: String?
    for (name, entry) in entries {
      if entry.begin != expectedBegin {
        let which = previous.map { "tensor \(JSONText.quote($0))" } ?? "the data section"
        let problem = entry.begin < expectedBegin ? "overlaps" : "leaves a gap after"
        throw SafeTensorsError(
          .invalidOffsets,
          "tensor \(JSONText.quote(name)) starts at data offset \(entry.begin) and \(problem) "
            + "\(which), which ends at \(expectedBegin); tensors must be contiguous")
      }
      expectedBegin = entry.end
      previous = name
    }
    guard expectedBegin == dataLength else {
      throw SafeTensorsError(
        .invalidOffsets,
        "tensors cover \(expectedBegin) data bytes but the file holds \(dataLength) after the "
          + "header; \(dataLength - expectedBegin) bytes belong to no tensor")
    }

    var tensors: [String: Tensor] = [:]
    tensors.reserveCapacity(entries.count)
    for (name, entry) in entries {
      let payload = Array(bytes[(dataStart + entry.begin)..<(dataStart + entry.end)])
      guard tensors[name] == nil else {
        throw SafeTensorsError(
          .invalidHeader,
          "tensor name \(JSONText.quote(name)) appears twice (in Unicode-equivalent spellings)")
      }
      tensors[name] = try Tensor(dtype: entry.dtype, shape: entry.shape, bytes: payload)
    }
    return SafeTensors(tensors: tensors, metadata: metadata)
  }

  private static func decodeMetadata(_ value: JSONValue) throws -> [String: String] {
    guard let members = value.members else {
      throw SafeTensorsError(
        .invalidHeader, "\(metadataKey) is \(value.kindName); it must be an object of strings")
    }
    var metadata: [String: String] = [:]
    for (key, item) in members {
      guard let text = item.stringValue else {
        throw SafeTensorsError(
          .invalidHeader,
          "\(metadataKey) key \(JSONText.quote(key)) holds \(item.kindName); "
            + "metadata values must be strings")
      }
      guard metadata.updateValue(text, forKey: key) == nil else {
        throw SafeTensorsError(
          .invalidHeader, "\(metadataKey) key \(JSONText.quote(key)) appears twice")
      }
    }
    return metadata
  }

  /// One validated tensor entry of the header.
  private struct Entry {
    var dtype: TensorDType
    var shape: [Int]
    var begin: Int
    var end: Int

    init(name: String, json: JSONValue, dataLength: Int) throws {
      let quotedName = JSONText.quote(name)
      func invalid(_ message: String) -> SafeTensorsError {
        SafeTensorsError(.invalidHeader, "tensor \(quotedName): \(message)")
      }
      guard let members = json.members else {
        throw invalid("entry is \(json.kindName); expected {\"dtype\",\"shape\",\"data_offsets\"}")
      }
      for (key, _) in members where !["dtype", "shape", "data_offsets"].contains(key) {
        throw invalid("unknown key \(JSONText.quote(key)) in entry")
      }
      guard let dtypeName = json["dtype"]?.stringValue else {
        throw invalid("\"dtype\" is missing or not a string")
      }
      guard let dtype = TensorDType(rawValue: dtypeName) else {
        let known = TensorDType.allCases.map(\.rawValue).joined(separator: ", ")
        throw SafeTensorsError(
          .unknownDType,
          "tensor \(quotedName): dtype \(JSONText.quote(dtypeName)) is not supported "
            + "(supported: \(known))")
      }
      guard let shapeValues = json["shape"]?.arrayValue else {
        throw invalid("\"shape\" is missing or not an array")
      }
      var shape: [Int] = []
      for dimension in shapeValues {
        guard let size = dimension.int64Value, size >= 0, let exact = Int(exactly: size) else {
          throw SafeTensorsError(
            .invalidShape,
            "tensor \(quotedName): shape has \(dimension.text), expected a non-negative integer")
        }
        shape.append(exact)
      }
      guard let offsets = json["data_offsets"]?.arrayValue, offsets.count == 2 else {
        throw invalid("\"data_offsets\" is missing or not [begin, end]")
      }
      guard let begin = offsets[0].int64Value, let end = offsets[1].int64Value,
        begin >= 0, begin <= end
      else {
        throw SafeTensorsError(
          .invalidOffsets,
          "tensor \(quotedName): data_offsets \(JSONValue.array(offsets).text) must be "
            + "non-negative integers with begin <= end")
      }
      guard end <= Int64(dataLength) else {
        throw SafeTensorsError(
          .truncated,
          "tensor \(quotedName): data_offsets end \(end) is beyond the \(dataLength) data bytes "
            + "in the file; the file is truncated")
      }
      guard let count = Tensor.elementCount(of: shape),
        case (let expected, false) = count.multipliedReportingOverflow(by: dtype.byteWidth),
        expected == Int(end - begin)
      else {
        throw SafeTensorsError(
          .invalidShape,
          "tensor \(quotedName): shape \(shape) of \(dtype.rawValue) does not fill its "
            + "\(end - begin) bytes (data_offsets \(begin)..<\(end))")
      }
      self.dtype = dtype
      self.shape = shape
      self.begin = Int(begin)
      self.end = Int(end)
    }
  }
}

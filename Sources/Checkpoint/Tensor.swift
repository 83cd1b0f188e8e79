/// A dense tensor: a dtype, a shape and its elements as little-endian bytes in row-major order.
public struct Tensor: Sendable, Equatable {
  /// The element type.
  public var dtype: TensorDType
  /// The size of each dimension; `[]` is a scalar holding one element.
  public var shape: [Int]
  /// The elements, little-endian, row-major; `elementCount * dtype.byteWidth` bytes.
  public var bytes: [UInt8]

  /// Creates a tensor from raw little-endian bytes.
  ///
  /// Throws `SafeTensorsError` (`.invalidShape`) if a dimension is negative, the element count
  /// overflows, or `bytes.count` is not the element count times the dtype's width.
  public init(dtype: TensorDType, shape: [Int], bytes: [UInt8]) throws {
    guard let count = Tensor.elementCount(of: shape) else {
      throw SafeTensorsError(
        .invalidShape, "shape \(shape) has a negative dimension or too many elements")
    }
    let (expected, overflow) = count.multipliedReportingOverflow(by: dtype.byteWidth)
    guard !overflow, expected == bytes.count else {
      throw SafeTensorsError(
        .invalidShape,
        "shape \(shape) of \(dtype.rawValue) needs \(count) x \(dtype.byteWidth) bytes, "
          + "got \(bytes.count)")
    }
    self.dtype = dtype
    self.shape = shape
    self.bytes = bytes
  }

  /// Creates an `F32` tensor; `floats.count` must equal the product of `shape` (checked).
  public init(floats: [Float], shape: [Int]) {
    self.init(encoding: floats, as: .f32, shape: shape) { $0.bitPattern }
  }

  /// Creates an `F64` tensor; `doubles.count` must equal the product of `shape` (checked).
  public init(doubles: [Double], shape: [Int]) {
    self.init(encoding: doubles, as: .f64, shape: shape) { $0.bitPattern }
  }

  /// Creates an `I32` tensor; `int32s.count` must equal the product of `shape` (checked).
  public init(int32s: [Int32], shape: [Int]) {
    self.init(encoding: int32s, as: .i32, shape: shape) { UInt32(bitPattern: $0) }
  }

  /// Creates an `I64` tensor; `int64s.count` must equal the product of `shape` (checked).
  public init(int64s: [Int64], shape: [Int]) {
    self.init(encoding: int64s, as: .i64, shape: shape) { UInt64(bitPattern: $0) }
  }

  /// Creates a `U64` tensor; `uint64s.count` must equal the product of `shape` (checked).
  public init(uint64s: [UInt64], shape: [Int]) {
    self.init(encoding: uint64s, as: .u64, shape: shape) { $0 }
  }

  /// Creates a `U8` tensor; `uint8s.count` must equal the product of `shape` (checked).
  public init(uint8s: [UInt8], shape: [Int]) {
    precondition(
      Tensor.elementCount(of: shape) == uint8s.count,
      "Tensor(uint8s:shape:): \(uint8s.count) values do not fill shape \(shape)")
    self.dtype = .u8
    self.shape = shape
    self.bytes = uint8s
  }

  /// The number of elements, the product of `shape`.
  public var elementCount: Int { bytes.count / dtype.byteWidth }

  /// The elements of an `F32` tensor; throws `.dtypeMismatch` for any other dtype.
  public func floats() throws -> [Float] {
    try decodeElements(.f32) { Float(bitPattern: $0 as UInt32) }
  }

  /// The elements of an `F64` tensor; throws `.dtypeMismatch` for any other dtype.
  public func doubles() throws -> [Double] {
    try decodeElements(.f64) { Double(bitPattern: $0 as UInt64) }
  }

  /// The elements of an `I32` tensor; throws `.dtypeMismatch` for any other dtype.
  public func int32s() throws -> [Int32] {
    try decodeElements(.i32) { Int32(bitPattern: $0 as UInt32) }
  }

  /// The elements of an `I64` tensor; throws `.dtypeMismatch` for any other dtype.
  public func int64s() throws -> [Int64] {
    try decodeElements(.i64) { Int64(bitPattern: $0 as UInt64) }
  }

  /// The elements of a `U64` tensor; throws `.dtypeMismatch` for any other dtype.
  public func uint64s() throws -> [UInt64] {
    try decodeElements(.u64) { $0 as UInt64 }
  }

  /// The elements of a `U8` tensor; throws `.dtypeMismatch` for any other dtype.
  public func uint8s() throws -> [UInt8] {
    guard dtype == .u8 else { throw mismatch(.u8) }
    return bytes
  }

  /// The product of `shape`, or nil if a dimension is negative or the product overflows.
  static func elementCount(of shape: [Int]) -> Int? {
    var count = 1
    for dimension in shape {
      guard dimension >= 0 else { return nil }
      let (product, overflow) = count.multipliedReportingOverflow(by: dimension)
      guard !overflow else { return nil }
      count = product
    }
    return count
  }

  /// Encodes `values` little-endian through `bits`; traps if they do not fill `shape`, which is
  /// a programming error (decoded data goes through the throwing initialiser instead).
  private init<Value, Bits: FixedWidthInteger>(
    encoding values: [Value], as dtype: TensorDType, shape: [Int], bits: (Value) -> Bits
  ) {
    precondition(
      Tensor.elementCount(of: shape) == values.count,
      "Tensor: \(values.count) \(dtype.rawValue) values do not fill shape \(shape)")
    var bytes = [UInt8]()
    bytes.reserveCapacity(values.count * MemoryLayout<Bits>.size)
    for value in values {
      let word = bits(value).littleEndian
      withUnsafeBytes(of: word) { bytes.append(contentsOf: $0) }
    }
    self.dtype = dtype
    self.shape = shape
    self.bytes = bytes
  }

  /// Decodes the little-endian payload as `Bits` words mapped through `value`.
  private func decodeElements<Bits: FixedWidthInteger, Value>(
    _ expected: TensorDType, _ value: (Bits) -> Value
  ) throws -> [Value] {
    guard dtype == expected else { throw mismatch(expected) }
    let width = MemoryLayout<Bits>.size
    let count = bytes.count / width
    return bytes.withUnsafeBytes { raw in
      (0..<count).map { index in
        value(Bits(littleEndian: raw.loadUnaligned(fromByteOffset: index * width, as: Bits.self)))
      }
    }
  }

  private func mismatch(_ expected: TensorDType) -> SafeTensorsError {
    SafeTensorsError(
      .dtypeMismatch,
      "tensor holds \(dtype.rawValue) but was read as \(expected.rawValue); "
        + "read it with the accessor for \(dtype.rawValue)")
  }
}

/// The element types a `Tensor` can hold, spelled as in the safetensors header.
public enum TensorDType: String, Sendable, CaseIterable {
  /// 32-bit IEEE 754 float.
  case f32 = "F32"
  /// 64-bit IEEE 754 float.
  case f64 = "F64"
  /// 32-bit signed integer.
  case i32 = "I32"
  /// 64-bit signed integer.
  case i64 = "I64"
  /// 8-bit unsigned integer.
  case u8 = "U8"
  /// 64-bit unsigned integer.
  case u64 = "U64"

  /// The size of one element in bytes.
  public var byteWidth: Int {
    switch self {
    case .u8: 1
    case .f32, .i32: 4
    case .f64, .i64, .u64: 8
    }
  }
}

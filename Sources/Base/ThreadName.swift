#if canImport(Glibc)
  import Glibc
#endif

/// Names the calling thread for the kernel: the name `top -H`, `ps -L`, perf and
/// `/proc/<pid>/task/<tid>/comm` show. (Foundation's `Thread.name`, set before `start()`, did not
/// reach the kernel here: every thread of the service showed the executable's name.) Written
/// to `/proc/thread-self/comm`, which is what `pthread_setname_np` does too (Swift's Glibc
/// module does not declare it). The kernel keeps 15 bytes: a longer name is cut there, at a
/// character boundary. Call it first thing in a thread's body; never on the main thread, whose
/// name is the process's. Does nothing where `/proc` is missing.
public func nameCurrentThread(_ name: String) {
  #if canImport(Glibc)
    var bytes: [UInt8] = []
    for character in name {
      let encoded = Array(String(character).utf8)
      guard bytes.count + encoded.count <= 15 else { break }
      bytes += encoded
    }
    let file = open("/proc/thread-self/comm", O_WRONLY)
    guard file >= 0 else { return }
    defer { close(file) }
    _ = bytes.withUnsafeBytes { write(file, $0.baseAddress, $0.count) }
  #endif
}

/// The kernel's name of the calling thread (nil where it cannot be read).
public func currentThreadName() -> String? {
  #if canImport(Glibc)
    let file = open("/proc/thread-self/comm", O_RDONLY)
    guard file >= 0 else { return nil }
    defer { close(file) }
    var buffer = [UInt8](repeating: 0, count: 64)
    let count = buffer.withUnsafeMutableBytes { read(file, $0.baseAddress, $0.count) }
    guard count > 0 else { return nil }
    var name = buffer.prefix(count)
    if name.last == UInt8(ascii: "\n") { name = name.dropLast() }
    return String(decoding: name, as: UTF8.self)
  #else
    return nil
  #endif
}

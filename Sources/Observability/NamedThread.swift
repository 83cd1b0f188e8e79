import Base
import Foundation

extension Thread {
  /// A thread, not yet started, that runs `body` under `name`: it names itself for the kernel
  /// first thing (`nameCurrentThread`, what `top -H`, `ps -L` and perf show; 15 bytes at most)
  /// and carries the name in Foundation too. Every thread the service starts is made here.
  public static func named(
    _ name: String, stackSize: Int? = nil, _ body: @escaping @Sendable () -> Void
  ) -> Thread {
    let thread = Thread {
      nameCurrentThread(name)
      body()
    }
    thread.name = name
    if let stackSize { thread.stackSize = stackSize }
    return thread
  }
}

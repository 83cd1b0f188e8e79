import Base
import Foundation
import Observability
import Testing

@Suite struct NamedThreadTests {
  @Test func aNamedThreadCarriesItsNameForTheKernelAndForFoundation() {
    let seen = Seen()
    let done = DispatchSemaphore(value: 0)
    let thread = Thread.named("iak-test-named", stackSize: 1 << 20) {
      seen.set(kernel: currentThreadName(), foundation: Thread.current.name)
      done.signal()
    }
    #expect(thread.stackSize == 1 << 20)
    thread.start()
    done.wait()
    #expect(seen.kernel == "iak-test-named")
    #expect(seen.foundation == "iak-test-named")
  }
}

/// What the thread saw, handed to the test under a lock.
private final class Seen: @unchecked Sendable {
  private let lock = NSLock()
  private var names: (String?, String?) = (nil, nil)
  /// The kernel's name of the thread.
  var kernel: String? { lock.withLock { names.0 } }
  /// Foundation's name of the thread.
  var foundation: String? { lock.withLock { names.1 } }
  /// Records both names.
  func set(kernel: String?, foundation: String?) { lock.withLock { names = (kernel, foundation) } }
}

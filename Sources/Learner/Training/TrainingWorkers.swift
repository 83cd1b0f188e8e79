import Dispatch
import Synchronization

/// The engines of the threads that close batches of different domains at once
/// (`train.threads` > 1), and the loop that hands the batches out to them.
///
/// Each thread prepares and trains on its own `KernelEngine` (buffers are never shared); the
/// frozen backbone and the stage are only read. Which thread takes which batch changes no
/// result: a batch's training reads and writes its own domain's state and its engine's buffers
/// only, and OpenBLAS runs each call on the calling thread with one BLAS thread (see
/// `BLASRuntime`), so a kernel comes out bit-identical whichever engine trained it.
///
/// Not thread-safe: the trainer that owns it calls `perform` from one thread at a time.
final class TrainingWorkers {
  /// One engine per thread; the first is the trainer's own.
  let engines: [KernelEngine]

  /// Workers for `threads` threads (at least 2), the first using `first`, the others engines of
  /// the same backbone, kernel shape and capacity.
  init(threads: Int, first: KernelEngine) {
    var engines = [first]
    for _ in 1..<max(2, threads) {
      engines.append(
        KernelEngine(backbone: first.backbone, config: first.config, capacity: first.capacity))
    }
    self.engines = engines
  }

  /// The number of threads.
  var threadCount: Int { engines.count }

  /// Runs `body` once for each index in `0..<count`, on up to `threadCount` threads (the
  /// calling one among them), each index with the engine of the thread that runs it; returns
  /// when every call has returned. Calls for different indices must touch disjoint state.
  func perform(_ count: Int, _ body: (_ index: Int, _ engine: KernelEngine) -> Void) {
    let lanes = min(count, engines.count)
    if lanes <= 1 {
      for index in 0..<count { body(index, engines[0]) }
      return
    }
    withoutActuallyEscaping(body) { body in
      let shared = Shared(engines: engines, body: body)
      DispatchQueue.concurrentPerform(iterations: lanes) { lane in
        let engine = shared.engines[lane]
        while true {
          let index = shared.next.add(1, ordering: .relaxed).oldValue
          guard index < count else { return }
          shared.body(index, engine)
        }
      }
    }
  }

  /// What the threads of one `perform` share: the engines (each used by one thread), the body
  /// (whose calls touch disjoint state, as `perform` requires) and the next index to take.
  ///
  /// `@unchecked Sendable`: the engines and the body are not `Sendable`, but no two threads use
  /// the same engine or run the body for the same index, and `perform` returns only after every
  /// thread is done.
  private final class Shared: @unchecked Sendable {
    let engines: [KernelEngine]
    let body: (Int, KernelEngine) -> Void
    let next = Atomic<Int>(0)

    init(engines: [KernelEngine], body: @escaping (Int, KernelEngine) -> Void) {
      self.engines = engines
      self.body = body
    }
  }
}

// swift-tools-version: 6.0
// iak-stream: a streaming fine-tuning service for CTR recommenders (see README.md).
import PackageDescription

let package = Package(
  name: "iak-stream",
  products: [
    .executable(name: "iak-stream", targets: ["iak-stream"])
  ],
  targets: [
    // C libraries from Debian, found through pkg-config.
    .systemLibrary(
      name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
    .systemLibrary(
      name: "COpenBLAS", pkgConfig: "openblas", providers: [.apt(["libopenblas-dev"])]),
    .systemLibrary(
      name: "CMicroHTTPD", pkgConfig: "libmicrohttpd", providers: [.apt(["libmicrohttpd-dev"])]),
    .systemLibrary(name: "CCrypto", pkgConfig: "libcrypto", providers: [.apt(["libssl-dev"])]),

    // What every library shares, each once: topic-partitions, JSON values, quoting and scanning,
    // the seeded generator, the little-endian byte codec, serving scores (Foundation only).
    .target(name: "Base"),
    // Logging and metrics shapes shared by every library (Foundation only).
    .target(name: "Observability", dependencies: ["Base"]),
    // safetensors, snapshots and the local store; the only target that imports CCrypto (its
    // SHA-256 is 5-20x faster than one written in Swift, and every checkpoint hashes its payload).
    .target(name: "Checkpoint", dependencies: ["Base", "CCrypto"]),
    // Everything Kafka and event-shaped: the only target that imports CRdKafka.
    .target(name: "Stream", dependencies: ["Base", "CRdKafka", "Observability"]),
    // Dataset generators: MovieLens converted to events (with planted effects), hostile input.
    .target(name: "Datasets", dependencies: ["Base", "Stream", "Observability"]),
    // The metrics HTTP server and the webhook's POST: the only target that imports CMicroHTTPD.
    .target(name: "HTTP", dependencies: ["CMicroHTTPD", "Observability"]),
    // Hand-vectorised C loops the Learner picks at run time when the CPU has the instructions
    // (AVX2); Swift's SIMD types compile to the baseline x86-64 set, 4 floats a register.
    // Optimised in debug builds too, like Learner: the serving engines' products run through it.
    .target(name: "CKernels", cSettings: [.unsafeFlags(["-O2"], .when(configuration: .debug))]),
    // Backbone, kernels, optimiser, batching, evaluation: the only target that imports COpenBLAS.
    // Optimised in debug builds too: the drift, guard and training loops are the tests' (and a
    // debug serve's) hot path, about 10x slower unoptimised (DriftDataDriftTests: 100 s -> 9 s).
    // -O keeps IEEE arithmetic (no reassociation), so results are the release build's.
    .target(
      name: "Learner",
      dependencies: ["Base", "CKernels", "COpenBLAS", "Checkpoint", "Observability"],
      swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
    // Configuration, commands and the pipeline that wires the libraries together.
    .target(
      name: "Service",
      dependencies: [
        "Base", "Stream", "Datasets", "Learner", "Checkpoint", "Observability", "HTTP",
      ]),
    // The thin executable.
    .executableTarget(name: "iak-stream", dependencies: ["Service"]),

    // Helpers shared by the test targets (HTTP GET, the MovieLens folder).
    .target(name: "TestSupport", path: "Tests/Support"),
    .testTarget(name: "BaseTests", dependencies: ["Base"]),
    .testTarget(name: "ObservabilityTests", dependencies: ["Observability"]),
    .testTarget(name: "CheckpointTests", dependencies: ["Base", "Checkpoint"]),
    .testTarget(
      name: "StreamTests",
      dependencies: ["Base", "Stream", "Datasets", "Observability", "TestSupport"]),
    .testTarget(
      name: "DatasetsTests",
      dependencies: ["Base", "Datasets", "Stream", "Observability", "TestSupport"]),
    .testTarget(name: "HTTPTests", dependencies: ["HTTP", "Observability", "TestSupport"]),
    .testTarget(
      name: "LearnerTests",
      dependencies: ["Base", "Learner", "Checkpoint", "Observability", "TestSupport"]),
    .testTarget(
      name: "ServiceTests",
      dependencies: [
        "Base", "Service", "Stream", "Datasets", "Learner", "Checkpoint", "Observability", "HTTP",
        "TestSupport",
      ],
      // Snapshots written by earlier versions, read in place by the compatibility tests.
      exclude: ["Fixtures"]),
  ],
  swiftLanguageModes: [.v6]
)

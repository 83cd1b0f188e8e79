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

    // Logging and metrics shapes shared by every library (Foundation only).
    .target(name: "Observability"),
    // safetensors, snapshots and the local store (Foundation only).
    .target(name: "Checkpoint"),
    // Everything Kafka and event-shaped: the only target that imports CRdKafka.
    .target(name: "Stream", dependencies: ["CRdKafka", "Observability"]),
    // Backbone, kernels, optimiser, batching, evaluation: the only target that imports COpenBLAS.
    // Optimised in debug builds too: the drift, guard and training loops are the tests' (and a
    // debug serve's) hot path, about 10x slower unoptimised (DriftDataDriftTests: 100 s -> 9 s).
    // -O keeps IEEE arithmetic (no reassociation), so results are the release build's.
    .target(
      name: "Learner", dependencies: ["COpenBLAS", "Checkpoint", "Observability"],
      swiftSettings: [.unsafeFlags(["-O"], .when(configuration: .debug))]),
    // Configuration, commands and the pipeline that wires the libraries together.
    .target(
      name: "Service",
      dependencies: ["Stream", "Learner", "Checkpoint", "Observability", "CMicroHTTPD"]),
    // The thin executable.
    .executableTarget(name: "iak-stream", dependencies: ["Service"]),

    .testTarget(name: "ObservabilityTests", dependencies: ["Observability"]),
    .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint"]),
    .testTarget(name: "StreamTests", dependencies: ["Stream", "Observability"]),
    .testTarget(name: "LearnerTests", dependencies: ["Learner", "Checkpoint", "Observability"]),
    .testTarget(
      name: "ServiceTests",
      dependencies: ["Service", "Stream", "Learner", "Checkpoint", "Observability"],
      // Snapshots written by earlier versions, read in place by the compatibility tests.
      exclude: ["Fixtures"]),
  ],
  swiftLanguageModes: [.v6]
)

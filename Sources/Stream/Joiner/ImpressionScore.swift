import Base

/// The serving score an impression carries while it waits for its label; the pipeline still names
/// it so (remove once `Service/Pipeline` says `ServingScore`).
public typealias ImpressionScore = ServingScore

import Learner

/// A checkpoint wrote its local snapshot but nothing to the shared topics (partition states,
/// kernels, alerts), because the consumer group did not confirm that this process still belongs
/// to it: it may have been paused past its session timeout while another member took its
/// partitions over. The next checkpoint asks again; if the partitions were lost, the consumer's
/// rebalance releases them, and their state is read back from the state topic if they return.
public struct MembershipNotConfirmed: Error, CustomStringConvertible {
  /// Why the group did not confirm it (the coordinator's answer, or why it could not be asked).
  public var reason: String

  /// What happened and what was (not) written.
  public var description: String {
    "the consumer group did not confirm this process as a member (\(reason)): nothing was "
      + "written to the state, kernels or alert topics; the local snapshot was written"
  }
}

/// An alert waiting to be sent (`Pipeline.defersAlerts`).
struct DeferredAlert {
  var event: DriftEvent
  var action: DriftAction
  var detail: String?
  var countsAction: Bool
}

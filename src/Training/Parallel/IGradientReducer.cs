namespace RlhfActors.Training.Parallel;

/// <summary>
/// A learner's view of its data-parallel group: its shard, and a collective that sums a buffer over every rank. The
/// learners call <see cref="SumInPlace"/> between backward and the optimizer step with their gradients (and the scalars
/// their metrics need) packed by <see cref="GradientBuffer"/>; every rank gets the same bytes back, so every rank
/// applies the same update. The transport is the caller's (grain messages in the Grains layer): Training knows nothing
/// of it. A blocking call, on purpose: a TorchSharp step runs on one device thread inside a dispose scope and must not
/// await, so the collective blocks that thread as NCCL's all-reduce blocks a stream.
/// </summary>
public interface IGradientReducer
{
    DataShard Shard { get; }

    /// <summary>Replaces <paramref name="buffer"/> with its element-wise sum over the group's ranks. Throws when the
    /// group cannot complete the sum (a rank lost, the exchange aborted); the caller then applies nothing.</summary>
    void SumInPlace(float[] buffer);
}

using Orleans.Concurrency;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Messaging;

namespace RlhfActors.Abstractions.Grains;

/// <summary>
/// The probe of <c>bench allreduce</c> (as NCCL's all_reduce_perf is NCCL's): a rank of a gradient exchange with no
/// model, so the learner group's all-reduce (<c>GradientExchange</c>) can be timed alone across silo processes. Each
/// rank of a group is one probe grain, placed by the caller (a placement hint on its first call); the group is the
/// learner group's own message, so the probe runs exactly the code a learner rank runs.
/// </summary>
[Alias("rlhf.IExchangeProbeGrain")]
public interface IExchangeProbeGrain : IGrainWithStringKey
{
    /// <summary>Becomes the rank of <paramref name="group"/> its key names (a new exchange); returns the address of
    /// the silo it runs on.</summary>
    [Alias("Join")]
    Task<string> Join(LearnerGroup group);

    /// <summary><paramref name="rounds"/> all-reduces of a buffer of <paramref name="elements"/> fp32 values, each
    /// after a one-element-per-rank barrier sum so every rank starts it within a message of the others. Every rank
    /// must be called alike at the same time. Throws when a sum is wrong.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Run")]
    Task<ExchangeProbeResult> Run(int elements, int rounds);

    /// <summary>A segment from another rank; interleaves with <see cref="Run"/>, which waits for it.</summary>
    [AlwaysInterleave, Alias("Deliver")]
    Task Deliver(GradientSegment segment);

    /// <summary>Ends the waits of the current exchange with an error (another rank failed).</summary>
    [AlwaysInterleave, Alias("AbortExchange")]
    Task AbortExchange(string reason, long committedRound);

    /// <summary>Leaves the group and deactivates.</summary>
    [Alias("Leave")]
    Task Leave();
}

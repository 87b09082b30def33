using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Learner.Group;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Parallel;

namespace RlhfActors.Grains.Learner;

/// <summary>
/// The learner as a rank of a data-parallel group (<c>parallel.learners</c> &gt; 1). Rank 0 is the experiment's
/// learner: the controller talks to it alone, and it forms the group, hands every training call to the other ranks as
/// well, and alone publishes and checkpoints. Every rank holds the whole model and optimizer, trains its rows of each
/// batch and sums gradients with the others through its <see cref="GradientExchange"/>, so all apply the same update.
/// </summary>
public sealed partial class LearnerGrain : ILearnerRankGrain
{
    /// <summary>How many times one call may form the group again (a rank lost each time) before it gives up.</summary>
    const int MaxReformsPerCall = ParallelSection.MaxLearners;
    static readonly TimeSpan ProbeTimeout = Abstractions.Messaging.RlhfLimits.DefaultResponseTimeout;

    // This rank's end of the group's exchange; null when the learner trains alone.
    GradientExchange? _exchange;
    // Why the group can no longer train, until it is formed again.
    string? _broken;
    // Rank 0: the member number the next replacement gets (member numbers are never reused within a formation).
    int _nextMember;

    string ExperimentId => GrainKeys.OfLearner(this.GetPrimaryKeyString()).ExperimentId;
    /// <summary>The experiment's learner itself (member 0): always rank 0, the one the controller calls.</summary>
    bool IsCoordinator => GrainKeys.OfLearner(this.GetPrimaryKeyString()).Member == 0;

    /// <summary>What the learners' steps sum gradients through: null alone.</summary>
    IGradientReducer? Reducer => _exchange;

    /// <summary>Rank 0: the other ranks of its group, by rank (none alone).</summary>
    IEnumerable<(int Rank, ILearnerRankGrain Grain)> Peers => IsCoordinator && _exchange is { } exchange
        ? exchange.Group.Ranks.Skip(1).Select((key, i) => (i + 1, GrainFactory.GetGrain<ILearnerRankGrain>(key)))
        : [];

    /// <summary>How this rank's exchange reaches another rank. The factory is taken here, on the grain's turn: the
    /// exchange sends from the device thread, where the grain's own properties must not be read.</summary>
    Func<string, GradientSegment, Task> RankGrain
    {
        get
        {
            var grains = GrainFactory;
            return (key, segment) => grains.GetGrain<ILearnerRankGrain>(key).Deliver(segment);
        }
    }

    LearnerGroup NewGroup(IEnumerable<string> ranks) => new()
    {
        Ranks = [.. ranks],
        BucketBytes = _config!.Parallel.BucketBytes,
        Generation = DateTimeOffset.UtcNow.UtcTicks,
    };

    /// <summary>Rank 0, once its own replica is ready: forms the group of <c>parallel.learners</c> ranks, each
    /// building the same replica (or restoring the same checkpoint), and checks that they all hold the same weights.</summary>
    async Task FormGroupAsync(ExperimentConfig config, string? checkpointDirectory)
    {
        await DisbandAsync();
        if (!config.Parallel.Enabled) return;
        int ranks = RankPlacement.RanksToForm(ServiceProvider, config.Parallel.Learners, resuming: checkpointDirectory is not null);
        if (ranks < config.Parallel.Learners) LogGroupNarrowed(ExperimentId, config.Parallel.Learners, ranks);
        if (ranks == 1) return;
        var group = NewGroup(Enumerable.Range(0, ranks).Select(r => GrainKeys.LearnerRank(ExperimentId, r)));
        _nextMember = ranks;
        _exchange = new GradientExchange(RankGrain, group, 0);
        _broken = null;
        var silos = RankPlacement.ForRanks(ServiceProvider, GrainContext.Address.SiloAddress!, ranks);
        var joins = Peers.Select(p => GroupCall.Placed(silos[p.Rank - 1], () => checkpointDirectory is null
            ? p.Grain.JoinGroup(config, group) : p.Grain.JoinGroupFromCheckpoint(config, group, checkpointDirectory))).ToArray();
        await AwaitJoinsAsync(joins, "could not form");
        LogGroupFormed(ExperimentId, ranks, string.Join(", ", silos.Prepend(GrainContext.Address.SiloAddress!)));
    }

    /// <summary>Waits for the ranks' joins and checks that every rank holds rank 0's weights.</summary>
    async Task AwaitJoinsAsync(Task<string>[] joins, string failure)
    {
        var own = await WeightsDigestAsync();
        string[] digests;
        try
        {
            digests = await Task.WhenAll(joins);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await DisbandAsync();
            throw new LearnerGroupException($"experiment '{ExperimentId}': the learner group {failure}: {e.Message}");
        }
        ThrowIfDisagree(own, digests, "after forming");
        await ThrowIfSharingDevicesAsync();
    }

    /// <summary>Refuses two ranks on one device worker (<see cref="GroupChecks.SharedDevice"/>).</summary>
    async Task ThrowIfSharingDevicesAsync()
    {
        var placements = await Task.WhenAll(Peers.Select(p => p.Grain.AsReference<ILearnerGrain>().GetPlacement()));
        var own = new Abstractions.Placement.GrainPlacement { Silo = GrainContext.Address.SiloAddress!, Device = _device.Device };
        if (GroupChecks.SharedDevice(ExperimentId, "learner", own, placements) is not { } error) return;
        await DisbandAsync();
        throw new LearnerGroupException(error);
    }

    /// <summary>Rank 0: releases the other ranks, if any.</summary>
    async Task DisbandAsync()
    {
        var peers = Peers.ToArray();
        _exchange = null;
        foreach (var (rank, peer) in peers)
        {
            try { await peer.LeaveGroup(); }
            catch (Exception e) when (e is not OutOfMemoryException) { LogPeerNotReleased(ExperimentId, rank, e.Message); }
        }
    }

    /// <summary>Rank 0: every <c>parallel.digest_every</c> steps the ranks compare their weights' SHA-256.</summary>
    async Task CheckAgreementAsync(int stepBefore, int stepAfter)
    {
        if (_exchange is null || _config is not { Parallel.DigestEvery: > 0 and var every } || stepAfter / every == stepBefore / every) return;
        var own = await WeightsDigestAsync();
        var digests = await Task.WhenAll(Peers.Select(p => p.Grain.GetWeightsDigest()));
        ThrowIfDisagree(own, digests, $"at step {stepAfter}");
        LogGroupAgrees(ExperimentId, stepAfter, own[..12]);
    }

    void ThrowIfDisagree(string own, string[] peers, string when)
    {
        if (GroupChecks.Disagreement(ExperimentId, "learner", own, peers, when) is not { } error) return;
        _broken = $"ranks disagree {when}";
        throw new LearnerGroupException(error);
    }

    Task<string> WeightsDigestAsync()
    {
        var learner = RequireLearner();
        return _device.RunAsync(() => PayloadDigest.Sha256(learner.ExportWeights().ToPayloads()));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: learner group of {Ranks} formed on silos {Silos}; the ranks hold the same weights")]
    private partial void LogGroupFormed(string experimentId, int ranks, string silos);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: parallel.learners is {Learners}, but the cluster now offers {Devices} device(s); the resumed run goes on with {Devices} rank(s) over the same global batches")]
    private partial void LogGroupNarrowed(string experimentId, int learners, int devices);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Experiment {ExperimentId}: the learner ranks agree at step {Step} (weights {Digest}…)")]
    private partial void LogGroupAgrees(string experimentId, int step, string digest);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: learner rank {Rank} could not be released: {Reason}")]
    private partial void LogPeerNotReleased(string experimentId, int rank, string reason);
}

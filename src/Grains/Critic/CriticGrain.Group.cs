using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Learner.Group;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Tensors;

namespace RlhfActors.Grains.Critic;

/// <summary>
/// The critic as a data-parallel group (<c>parallel.learners</c> &gt; 1 under PPO): as many ranks as the policy's
/// group, each a whole replica of the value model and its optimizer, training its rows of every minibatch and summing
/// gradients through its own <see cref="GradientExchange"/>. Rank 0 is the experiment's critic: the PPO stage calls
/// it alone; it hands each update to the other ranks, and alone gives values and checkpoints.
/// <para>The critic and the policy groups never exchange at the same time (the PPO stage trains the policy, then
/// the critic), so a critic rank may share a device worker with a policy rank; within one group, ranks may not.</para>
/// <para>A failed rank stops the critic group: rank 0 drops its own model too (its update may be half applied), so
/// the controller's recovery restores the critic from the stage's last checkpoint, where the group forms again (with
/// fewer ranks if devices were lost). The policy's group re-forms in place; the critic's does not yet.</para>
/// </summary>
public sealed partial class CriticGrain
{
    GradientExchange? _exchange;
    string? _broken;

    string ExperimentId => GrainKeys.OfCritic(this.GetPrimaryKeyString()).ExperimentId;
    bool IsCoordinator => GrainKeys.OfCritic(this.GetPrimaryKeyString()).Rank == 0;

    IEnumerable<(int Rank, ICriticRankGrain Grain)> Peers => IsCoordinator && _exchange is { } exchange
        ? exchange.Group.Ranks.Skip(1).Select((key, i) => (i + 1, GrainFactory.GetGrain<ICriticRankGrain>(key)))
        : [];

    /// <summary>How this rank's exchange reaches another (the factory taken on the grain's turn: the exchange sends
    /// from the device thread).</summary>
    Func<string, GradientSegment, Task> RankGrain
    {
        get
        {
            var grains = GrainFactory;
            return (key, segment) => grains.GetGrain<ICriticRankGrain>(key).Deliver(segment);
        }
    }

    /// <summary>Rank 0, once its own replica is ready: forms the group, every rank building the same replica (or
    /// restoring the same checkpoint), and checks that they hold the same weights.</summary>
    async Task FormGroupAsync(CriticInit init, string? checkpointDirectory)
    {
        await DisbandAsync();
        _broken = null;
        var parallel = init.Model.Config.Parallel;
        if (!IsCoordinator || !parallel.Enabled) return;
        var silo = GrainContext.Address.SiloAddress!;
        int ranks = parallel.Learners;
        if (checkpointDirectory is not null && RankPlacement.Devices(ServiceProvider, silo) is var devices && devices < ranks)
        {
            // As the policy's group: a resume after lost devices goes on with fewer ranks over the same batches.
            LogCriticGroupNarrowed(ExperimentId, ranks, devices);
            ranks = devices;
            if (ranks == 1) return;
        }
        var group = new LearnerGroup
        {
            Ranks = [.. Enumerable.Range(0, ranks).Select(r => GrainKeys.CriticRank(ExperimentId, r))],
            BucketBytes = parallel.BucketBytes,
            Generation = DateTimeOffset.UtcNow.UtcTicks,
        };
        _exchange = new GradientExchange(RankGrain, group, 0);
        var silos = RankPlacement.ForRanks(ServiceProvider, silo, ranks);
        var joins = Peers.Select(p => GroupCall.Placed(silos[p.Rank - 1], () => checkpointDirectory is null
            ? p.Grain.JoinCriticGroup(init, group) : p.Grain.JoinCriticGroupFromCheckpoint(init, group, checkpointDirectory))).ToArray();
        string[] digests;
        try
        {
            digests = await Task.WhenAll(joins);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await DisbandAsync();
            throw new LearnerGroupException($"experiment '{ExperimentId}': the critic group could not form: {e.Message}");
        }
        ThrowIfDisagree(await DigestAsync(), digests, "after forming");
        await ThrowIfSharingDevicesAsync();
        LogCriticGroupFormed(ExperimentId, ranks, string.Join(", ", silos.Prepend(silo)));
    }

    async Task ThrowIfSharingDevicesAsync()
    {
        var placements = await Task.WhenAll(Peers.Select(p => p.Grain.AsReference<ICriticGrain>().GetPlacement()));
        var own = new Abstractions.Placement.GrainPlacement { Silo = GrainContext.Address.SiloAddress!, Device = _device.Device };
        if (GroupChecks.SharedDevice(ExperimentId, "critic", own, placements) is not { } error) return;
        await DisbandAsync();
        throw new LearnerGroupException(error);
    }

    /// <summary>Rank 0: its part of a training call and every other rank's at once; the first failure aborts the
    /// exchange everywhere and stops the group (see the class summary).</summary>
    async Task<T> InGroupAsync<T>(Func<Task<T>> own, Func<ICriticRankGrain, Task> peerCall, string what)
    {
        if (_broken is not null) throw new LearnerGroupException($"experiment '{ExperimentId}': the critic group stopped ({_broken}); resume the run to form it again");
        if (_exchange is not { } exchange) return await own();
        var ownPart = own();
        var parts = Peers.Select(p => (p.Rank, peerCall(p.Grain))).Prepend((0, (Task)ownPart)).ToList();
        var failure = await GroupCall.FirstFailureAsync(parts, what, reason =>
        {
            exchange.Abort(reason);
            foreach (var (_, peer) in Peers) _ = peer.AbortExchange(reason, exchange.Committed).ContinueWith(t => t.Exception, TaskScheduler.Current);
        });
        if (failure is null) return await ownPart;
        _broken = $"rank {failure.Value.Rank} failed during {what}";
        LogCriticGroupFailed(ExperimentId, failure.Value.Rank, what, failure.Value.Error.Message);
        await DisbandAsync();
        await DisposeCriticAsync();
        throw new LearnerGroupException($"experiment '{ExperimentId}': critic rank {failure.Value.Rank} failed during {what}: {failure.Value.Error.Message}");
    }

    /// <summary>Rank 0: every <c>parallel.digest_every</c> critic steps the ranks compare their weights' SHA-256.</summary>
    async Task CheckAgreementAsync(int stepBefore, int stepAfter)
    {
        if (_exchange is null || _initConfig is not { Parallel.DigestEvery: > 0 and var every } || stepAfter / every == stepBefore / every) return;
        var digests = await Task.WhenAll(Peers.Select(p => p.Grain.GetCriticDigest()));
        ThrowIfDisagree(await DigestAsync(), digests, $"at critic step {stepAfter}");
    }

    void ThrowIfDisagree(string own, string[] peers, string when)
    {
        if (GroupChecks.Disagreement(ExperimentId, "critic", own, peers, when) is not { } error) return;
        _broken = $"ranks disagree {when}";
        throw new LearnerGroupException(error);
    }

    Task<string> DigestAsync()
    {
        var critic = RequireCritic();
        return _device.RunAsync(() => PayloadDigest.Sha256(critic.Critic.ExportWeights().ToPayloads()));
    }

    /// <summary>Rank 0: releases the other ranks, if any.</summary>
    async Task DisbandAsync()
    {
        var peers = Peers.ToArray();
        _exchange = null;
        foreach (var (rank, peer) in peers)
        {
            try { await peer.LeaveCriticGroup(); }
            catch (Exception e) when (e is not OutOfMemoryException) { LogCriticPeerNotReleased(ExperimentId, rank, e.Message); }
        }
    }

    // --- as a rank other than 0 ----------------------------------------------------------------------------------

    public async Task<string> JoinCriticGroup(CriticInit init, LearnerGroup group)
    {
        int rank = RankIn(group);
        await InitializeReplicaAsync(init);
        _exchange = new GradientExchange(RankGrain, group, rank);
        return await DigestAsync();
    }

    public async Task<string> JoinCriticGroupFromCheckpoint(CriticInit init, LearnerGroup group, string checkpointDirectory)
    {
        int rank = RankIn(group);
        await RestoreReplicaAsync(init, checkpointDirectory);
        _exchange = new GradientExchange(RankGrain, group, rank);
        return await DigestAsync();
    }

    int RankIn(LearnerGroup group)
    {
        int rank = group.Ranks.IndexOf(this.GetPrimaryKeyString());
        if (rank < 1)
            throw new ArgumentException($"critic '{this.GetPrimaryKeyString()}' is not a rank of the group [{string.Join(", ", group.Ranks)}] other than rank 0", nameof(group));
        return rank;
    }

    public async Task TrainRank(CriticTrainRequest request)
    {
        var critic = RequireCritic();
        var batch = request.Rollouts.ToBatch();
        var reducer = _exchange;
        await _device.RunAsync(() => critic.Step(batch, [.. request.Returns], [.. request.OldValues], request.LearningRate, reducer));
    }

    public Task<string> GetCriticDigest() => DigestAsync();

    public Task Deliver(GradientSegment segment)
    {
        if (_exchange is { } exchange) exchange.Deliver(segment);
        else segment.Data.Dispose();
        return Task.CompletedTask;
    }

    public Task AbortExchange(string reason, long committedRound)
    {
        _exchange?.Abort(reason, committedRound);
        return Task.CompletedTask;
    }

    public async Task LeaveCriticGroup()
    {
        _exchange = null;
        await Release();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: critic group of {Ranks} formed on silos {Silos}; the ranks hold the same weights")]
    private partial void LogCriticGroupFormed(string experimentId, int ranks, string silos);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: parallel.learners is {Learners}, but the cluster now offers {Devices} device(s); the restored critic goes on with {Devices} rank(s)")]
    private partial void LogCriticGroupNarrowed(string experimentId, int learners, int devices);

    [LoggerMessage(Level = LogLevel.Error, Message = "Experiment {ExperimentId}: critic rank {Rank} failed during {What}: {Reason}; the critic group stops")]
    private partial void LogCriticGroupFailed(string experimentId, int rank, string what, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: critic rank {Rank} could not be released: {Reason}")]
    private partial void LogCriticPeerNotReleased(string experimentId, int rank, string reason);
}

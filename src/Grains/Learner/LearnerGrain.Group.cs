using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Learner.Group;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
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
    // This rank's end of the group's exchange; null when the learner trains alone.
    GradientExchange? _exchange;
    // Why the group can no longer train (a rank failed mid-update), until it is formed again.
    string? _broken;

    (string ExperimentId, int Rank) Identity => GrainKeys.OfLearner(this.GetPrimaryKeyString());
    string ExperimentId => Identity.ExperimentId;
    int Rank => Identity.Rank;

    /// <summary>What the learners' steps sum gradients through: null alone.</summary>
    IGradientReducer? Reducer => _exchange;

    /// <summary>Rank 0: the other ranks of its group (none alone).</summary>
    IEnumerable<(int Rank, ILearnerRankGrain Grain)> Peers => Rank == 0 && _exchange is { } exchange
        ? exchange.Group.Ranks.Skip(1).Select((key, i) => (i + 1, GrainFactory.GetGrain<ILearnerRankGrain>(key)))
        : [];

    /// <summary>Rank 0, once its own replica is ready: forms the group of <c>parallel.learners</c> ranks, each
    /// building the same replica (or restoring the same checkpoint), and checks that they all hold the same weights.</summary>
    async Task FormGroupAsync(ExperimentConfig config, string? checkpointDirectory)
    {
        await DisbandAsync();
        if (!config.Parallel.Enabled) return;
        int ranks = config.Parallel.Learners;
        var group = new LearnerGroup
        {
            Ranks = [.. Enumerable.Range(0, ranks).Select(r => GrainKeys.LearnerRank(ExperimentId, r))],
            BucketBytes = config.Parallel.BucketBytes,
            Generation = DateTimeOffset.UtcNow.UtcTicks,
        };
        _exchange = new GradientExchange(GrainFactory, group, 0);
        _broken = null;
        // One rank per device: a placement hint puts each new activation on its slot.
        var silos = RankPlacement.ForRanks(ServiceProvider, GrainContext.Address.SiloAddress!, ranks);
        var joins = new List<Task<string>>();
        foreach (var (rank, peer) in Peers)
        {
            RequestContext.Set(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey, silos[rank - 1]);
            try
            {
                joins.Add(checkpointDirectory is null ? peer.JoinGroup(config, group) : peer.JoinGroupFromCheckpoint(config, group, checkpointDirectory));
            }
            finally { RequestContext.Remove(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey); }
        }
        var own = await WeightsDigestAsync();
        string[] digests;
        try
        {
            digests = await Task.WhenAll(joins);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await DisbandAsync();
            throw new LearnerGroupException($"experiment '{ExperimentId}': the learner group of {ranks} could not form: {e.Message}");
        }
        ThrowIfDisagree(own, digests, "after forming");
        LogGroupFormed(ExperimentId, ranks, string.Join(", ", silos.Prepend(GrainContext.Address.SiloAddress!)));
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

    /// <summary>
    /// Rank 0: runs its own part of a training call and hands <paramref name="peerCall"/> to every other rank at the
    /// same time. The first rank that fails aborts the exchange everywhere (the others would wait for its segments),
    /// and the call fails naming it; the group then refuses to train until it is formed again. Alone: its own part.
    /// </summary>
    async Task<T> InGroupAsync<T>(Func<Task<T>> own, Func<ILearnerRankGrain, Task> peerCall, string what)
    {
        if (_exchange is not { } exchange) return await own();
        if (_broken is not null) throw new LearnerGroupException($"experiment '{ExperimentId}': the learner group stopped ({_broken}); resume the run to form it again");
        var parts = new List<(int Rank, Task Task)> { (0, own()) };
        parts.AddRange(Peers.Select(p => (p.Rank, peerCall(p.Grain))));
        var pending = parts.Select(p => p.Task).ToList();
        (int Rank, Exception Error)? first = null;
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending);
            pending.Remove(done);
            if (done.IsFaulted && first is null)
            {
                first = (parts.First(p => p.Task == done).Rank, done.Exception!.GetBaseException());
                var reason = $"rank {first.Value.Rank} failed during {what}: {first.Value.Error.Message}";
                exchange.Abort(reason);
                foreach (var (_, peer) in Peers) _ = peer.AbortExchange(reason).ContinueWith(t => t.Exception, TaskScheduler.Current);
            }
        }
        if (first is { } failure)
        {
            _broken = $"rank {failure.Rank} failed during {what}";
            LogGroupFailed(ExperimentId, failure.Rank, what, failure.Error.Message);
            throw new LearnerGroupException($"experiment '{ExperimentId}': learner rank {failure.Rank} failed during {what}: {failure.Error.Message}");
        }
        return await (Task<T>)parts[0].Task;
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
        var differing = peers.Select((d, i) => (Rank: i + 1, Digest: d)).Where(p => p.Digest != own).ToArray();
        if (differing.Length == 0) return;
        _broken = $"ranks disagree {when}";
        throw new LearnerGroupException($"experiment '{ExperimentId}': the learner ranks' weights disagree {when}: rank 0 holds {own[..12]}, " +
            string.Join(", ", differing.Select(d => $"rank {d.Rank} {d.Digest[..12]}")) + "; the run stops rather than train diverged replicas");
    }

    Task<string> WeightsDigestAsync()
    {
        var learner = RequireLearner();
        return _device.RunAsync(() => PayloadDigest.Sha256(learner.ExportWeights().ToPayloads()));
    }

    // --- ILearnerRankGrain: what rank 0 asks of the others ------------------------------------------------------

    public async Task<string> JoinGroup(ExperimentConfig config, LearnerGroup group)
    {
        ThrowUnlessRankOf(group);
        await InitializeReplicaAsync(config);
        _exchange = new GradientExchange(GrainFactory, group, Rank);
        return await WeightsDigestAsync();
    }

    public async Task<string> JoinGroupFromCheckpoint(ExperimentConfig config, LearnerGroup group, string checkpointDirectory)
    {
        ThrowUnlessRankOf(group);
        await ResumeReplicaAsync(config, checkpointDirectory);
        _exchange = new GradientExchange(GrainFactory, group, Rank);
        return await WeightsDigestAsync();
    }

    void ThrowUnlessRankOf(LearnerGroup group)
    {
        if (Rank == 0 || Rank >= group.Ranks.Length || group.Ranks[Rank] != this.GetPrimaryKeyString())
            throw new ArgumentException($"learner '{this.GetPrimaryKeyString()}' is not rank {Rank} of the group [{string.Join(", ", group.Ranks)}]", nameof(group));
    }

    public async Task TrainRankSteps(int steps) => await RunSftStepsAsync(steps);

    public async Task StartRankStage(string stage, long policyVersion)
    {
        switch (stage)
        {
            case "grpo":
                await BeginGrpoAdaptersAsync();
                await CreateGrpoAsync(policyVersion);
                break;
            case "dpo":
                await CreateDpoAsync();
                break;
            default:
                throw new ArgumentException($"a learner group trains sft, grpo and dpo stages, not '{stage}'", nameof(stage));
        }
    }

    public async Task GrpoRankStep(GrpoStepRequest request, long policyVersion)
    {
        var grpo = _grpo ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started GRPO");
        // Rank 0 republishes (a lost registry) without training: the version the batch is judged against moves with it.
        if (policyVersion != grpo.PolicyVersion) await _device.RunAsync(() => grpo.Republished(policyVersion));
        var batch = request.Rollouts.ToBatch();
        float[][]? reference = request.ReferenceLogProbs.IsDefault ? null : [.. request.ReferenceLogProbs];
        var reducer = Reducer;
        await _device.RunAsync(() => grpo.Step(batch, request.Rewards, request.LearningRate, reference, reducer));
    }

    public async Task DpoRankStep(DpoStepRequest request)
    {
        var dpo = _dpo ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started DPO");
        var pairs = request.Pairs.Select(p => p.ToPair()).ToArray();
        var reference = ReferenceRows(request.Reference);
        var reducer = Reducer;
        await _device.RunAsync(() => dpo.Step(pairs, reference, request.LearningRate, reducer));
    }

    public Task<string> GetWeightsDigest() => WeightsDigestAsync();

    public Task Deliver(GradientSegment segment)
    {
        if (_exchange is { } exchange) exchange.Deliver(segment);
        else LogSegmentDropped(this.GetPrimaryKeyString(), segment.From, segment.Round);
        return Task.CompletedTask;
    }

    public Task AbortExchange(string reason)
    {
        _exchange?.Abort(reason);
        return Task.CompletedTask;
    }

    public async Task LeaveGroup()
    {
        _exchange = null;
        await Release();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: learner group of {Ranks} formed on silos {Silos}; the ranks hold the same weights")]
    private partial void LogGroupFormed(string experimentId, int ranks, string silos);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Experiment {ExperimentId}: the learner ranks agree at step {Step} (weights {Digest}…)")]
    private partial void LogGroupAgrees(string experimentId, int step, string digest);

    [LoggerMessage(Level = LogLevel.Error, Message = "Experiment {ExperimentId}: learner rank {Rank} failed during {What}: {Reason}")]
    private partial void LogGroupFailed(string experimentId, int rank, string what, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: learner rank {Rank} could not be released: {Reason}")]
    private partial void LogPeerNotReleased(string experimentId, int rank, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Learner {Learner}: a gradient segment from rank {From} (exchange {Round}) arrived outside any group and was dropped")]
    private partial void LogSegmentDropped(string learner, int from, long round);
}

using Microsoft.Extensions.Logging;
using System.Collections.Immutable;
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
        int ranks = config.Parallel.Learners;
        var group = NewGroup(Enumerable.Range(0, ranks).Select(r => GrainKeys.LearnerRank(ExperimentId, r)));
        _nextMember = ranks;
        _exchange = new GradientExchange(RankGrain, group, 0);
        _broken = null;
        var silos = RankPlacement.ForRanks(ServiceProvider, GrainContext.Address.SiloAddress!, ranks);
        var joins = Peers.Select(p => Placed(silos[p.Rank - 1], () => checkpointDirectory is null
            ? p.Grain.JoinGroup(config, group) : p.Grain.JoinGroupFromCheckpoint(config, group, checkpointDirectory))).ToArray();
        await AwaitJoinsAsync(joins, "could not form");
        LogGroupFormed(ExperimentId, ranks, string.Join(", ", silos.Prepend(GrainContext.Address.SiloAddress!)));
    }

    /// <summary>Calls <paramref name="call"/> with a placement hint, so a rank's first activation lands on
    /// <paramref name="silo"/> (one rank per device).</summary>
    static Task<T> Placed<T>(SiloAddress silo, Func<Task<T>> call)
    {
        RequestContext.Set(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey, silo);
        try { return call(); }
        finally { RequestContext.Remove(Orleans.Runtime.Placement.IPlacementDirector.PlacementHintKey); }
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

    /// <summary>A rank blocks its device worker while it waits for the others' gradients, so two ranks on one worker
    /// would wait for each other forever: refused (placement puts each rank on its own slot, but a silo's device
    /// allocator takes turns among every heavy grain, so two ranks on one multi-device silo can still meet).</summary>
    async Task ThrowIfSharingDevicesAsync()
    {
        var placements = await Task.WhenAll(Peers.Select(p => p.Grain.AsReference<ILearnerGrain>().GetPlacement()));
        var all = placements.Select((p, i) => (Rank: i + 1, Where: $"{p.Device} on silo {p.Silo}"))
            .Prepend((Rank: 0, Where: $"{_device.Device} on silo {GrainContext.Address.SiloAddress}")).ToArray();
        if (all.GroupBy(p => p.Where).FirstOrDefault(g => g.Count() > 1) is not { } shared) return;
        await DisbandAsync();
        throw new LearnerGroupException($"experiment '{ExperimentId}': learner ranks {string.Join(" and ", shared.Select(p => p.Rank))} share device {shared.Key}; each rank needs a device of its own (lower parallel.learners or add devices)");
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
    /// same time. The first rank that fails aborts the exchange everywhere (the others would wait for its segments).
    /// If it was lost (its model gone with its silo), the group forms again without it, with a replacement on a free
    /// device when there is one, and the call goes on: at once when rank 0 had finished it (every survivor applied
    /// the same rounds), else by running both parts again when <paramref name="resumable"/> says the rounds committed
    /// so far leave the survivors at a boundary it can continue from. Any other failure stops the group. Alone: its
    /// own part.
    /// </summary>
    async Task<T> InGroupAsync<T>(Func<Task<T>> own, Func<ILearnerRankGrain, Task> peerCall, string what, Func<long, bool> resumable)
    {
        if (_exchange is null) return await own();
        for (int reforms = 0; ; reforms++)
        {
            if (_broken is not null) throw new LearnerGroupException($"experiment '{ExperimentId}': the learner group stopped ({_broken}); resume the run to form it again");
            var exchange = _exchange;
            long committedBefore = exchange.Committed;
            var (ownPart, failure) = await RunPartsAsync(exchange, own, peerCall, what);
            if (failure is null) return await ownPart;

            var lost = await LostRanksAsync();
            bool ownDone = ownPart.IsCompletedSuccessfully;
            long committed = exchange.Committed - committedBefore;
            string cause = $"learner rank {failure.Value.Rank} failed during {what}: {failure.Value.Error.Message}";
            if (!lost.Contains(failure.Value.Rank) || reforms >= MaxReformsPerCall || !ownDone && !resumable(committed))
            {
                _broken = $"rank {failure.Value.Rank} failed during {what}";
                LogGroupFailed(ExperimentId, failure.Value.Rank, what, failure.Value.Error.Message);
                throw new LearnerGroupException($"experiment '{ExperimentId}': {cause}" +
                    (lost.Contains(failure.Value.Rank) ? $" (lost after {committed} committed rounds of the call, which cannot be continued)" : ""));
            }
            await ReformAsync(lost, cause);
            if (ownDone) return await ownPart;
        }
    }

    /// <summary>One attempt of a group call: rank 0's part and the others', the first failure aborting the rest.</summary>
    async Task<(Task<T> Own, (int Rank, Exception Error)? Failure)> RunPartsAsync<T>(GradientExchange exchange,
        Func<Task<T>> own, Func<ILearnerRankGrain, Task> peerCall, string what)
    {
        var ownPart = own();
        var parts = new List<(int Rank, Task Task)> { (0, ownPart) };
        parts.AddRange(Peers.Select(p => (p.Rank, peerCall(p.Grain))));
        var pending = parts.Select(p => p.Task).ToList();
        (int Rank, Exception Error)? first = null;
        while (pending.Count > 0)
        {
            var done = await Task.WhenAny(pending);
            pending.Remove(done);
            if (!done.IsFaulted || first is not null) continue;
            first = (parts.First(p => p.Task == done).Rank, done.Exception!.GetBaseException());
            var reason = $"rank {first.Value.Rank} failed during {what}: {first.Value.Error.Message}";
            // Abort rank 0's own exchange first: from then on its committed count no longer moves, so the round the
            // others are told is final.
            exchange.Abort(reason);
            foreach (var (_, peer) in Peers) _ = peer.AbortExchange(reason, exchange.Committed).ContinueWith(t => t.Exception, TaskScheduler.Current);
        }
        return (ownPart, first);
    }

    /// <summary>The ranks whose model is gone: their silo died (the call fails or re-activates an empty grain).</summary>
    async Task<HashSet<int>> LostRanksAsync()
    {
        var probes = Peers.Select(async p =>
        {
            try { return (p.Rank, Lost: await p.Grain.AsReference<ILearnerGrain>().GetStepsDone().WaitAsync(ProbeTimeout) < 0); }
            catch (Exception e) when (e is not OutOfMemoryException) { return (p.Rank, Lost: true); }
        });
        return [.. (await Task.WhenAll(probes)).Where(p => p.Lost).Select(p => p.Rank)];
    }

    /// <summary>
    /// Forms the group again without <paramref name="lost"/>: the survivors keep their state (they agree, see
    /// <see cref="GradientExchange"/>'s commit) and re-shard every later batch among themselves; a replacement joins
    /// on each free device, up to <c>parallel.learners</c>, by copying rank 0's whole state (weights, optimizer
    /// moments, data cursor, stage position) as checkpoint files.
    /// </summary>
    async Task ReformAsync(HashSet<int> lost, string cause)
    {
        var old = _exchange!.Group;
        foreach (var rank in lost)
            _ = GrainFactory.GetGrain<ILearnerRankGrain>(old.Ranks[rank]).LeaveGroup().ContinueWith(t => t.Exception, TaskScheduler.Current);
        var survivors = old.Ranks.Where((_, rank) => !lost.Contains(rank)).ToList();
        var occupied = await Task.WhenAll(survivors.Skip(1).Select(k => GrainFactory.GetGrain<ILearnerGrain>(k).GetPlacement()));
        var free = RankPlacement.Free(ServiceProvider, occupied.Select(p => p.Silo).Prepend(GrainContext.Address.SiloAddress!),
            _config!.Parallel.Learners - survivors.Count);
        var replacements = free.Select(_ => GrainKeys.LearnerRank(ExperimentId, _nextMember++)).ToArray();
        var group = NewGroup(survivors.Concat(replacements));
        _exchange = new GradientExchange(RankGrain, group, 0);

        var state = replacements.Length > 0 ? await ExportStateAsync() : null;
        var config = _config!;
        var joins = group.Ranks.Skip(1).Select((key, i) =>
        {
            var peer = GrainFactory.GetGrain<ILearnerRankGrain>(key);
            int replacement = Array.IndexOf(replacements, key);
            return replacement < 0 ? peer.Regroup(group) : Placed(free[replacement], () => peer.JoinGroupFromState(config, group, state!));
        }).ToArray();
        await AwaitJoinsAsync(joins, $"could not form again after {cause}");
        LogGroupReformed(ExperimentId, old.Ranks.Length, lost.Count, replacements.Length, group.Ranks.Length, state?.Bytes ?? 0, cause);
    }

    /// <summary>Rank 0's whole state as checkpoint files, written to a scratch folder and read back (the checkpoint
    /// format already holds everything a replica needs to continue exactly, and verifies itself on load).</summary>
    async Task<LearnerState> ExportStateAsync()
    {
        var directory = Path.Combine(Path.GetTempPath(), "rlhf-learner-state", Guid.NewGuid().ToString("N"));
        try
        {
            await WriteCheckpointAsync(directory, new Dictionary<string, string> { ["purpose"] = "learner group state copy" }, "");
            var files = Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories)
                .ToImmutableSortedDictionary(f => Path.GetRelativePath(directory, f).Replace('\\', '/'), f => (ReadOnlyMemory<byte>)File.ReadAllBytes(f), StringComparer.Ordinal);
            return new LearnerState { Files = files };
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
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
        int rank = RankIn(group);
        await InitializeReplicaAsync(config);
        _exchange = new GradientExchange(RankGrain, group, rank);
        return await WeightsDigestAsync();
    }

    public async Task<string> JoinGroupFromCheckpoint(ExperimentConfig config, LearnerGroup group, string checkpointDirectory)
    {
        int rank = RankIn(group);
        await ResumeReplicaAsync(config, checkpointDirectory);
        _exchange = new GradientExchange(RankGrain, group, rank);
        return await WeightsDigestAsync();
    }

    public async Task<string> JoinGroupFromState(ExperimentConfig config, LearnerGroup group, LearnerState state)
    {
        int rank = RankIn(group);
        var directory = Path.Combine(Path.GetTempPath(), "rlhf-learner-state", Guid.NewGuid().ToString("N"));
        try
        {
            foreach (var (name, bytes) in state.Files)
            {
                var path = Path.GetFullPath(Path.Combine(directory, name));
                if (!path.StartsWith(directory + Path.DirectorySeparatorChar, StringComparison.Ordinal))
                    throw new ArgumentException($"learner state file '{name}' is outside its folder", nameof(state));
                Directory.CreateDirectory(Path.GetDirectoryName(path)!);
                await File.WriteAllBytesAsync(path, bytes);
            }
            await ResumeReplicaAsync(config, directory);
        }
        finally
        {
            if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true);
        }
        _exchange = new GradientExchange(RankGrain, group, rank);
        return await WeightsDigestAsync();
    }

    public async Task<string> Regroup(LearnerGroup group)
    {
        int rank = RankIn(group);
        RequireLearner();
        _exchange = new GradientExchange(RankGrain, group, rank);
        return await WeightsDigestAsync();
    }

    /// <summary>This grain's rank in <paramref name="group"/> (never 0: rank 0 forms the group).</summary>
    int RankIn(LearnerGroup group)
    {
        int rank = group.Ranks.IndexOf(this.GetPrimaryKeyString());
        if (rank < 1)
            throw new ArgumentException($"learner '{this.GetPrimaryKeyString()}' is not a rank of the group [{string.Join(", ", group.Ranks)}] other than rank 0", nameof(group));
        return rank;
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

    public Task AbortExchange(string reason, long committedRound)
    {
        _exchange?.Abort(reason, committedRound);
        return Task.CompletedTask;
    }

    public async Task LeaveGroup()
    {
        _exchange = null;
        await Release();
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: learner group of {Ranks} formed on silos {Silos}; the ranks hold the same weights")]
    private partial void LogGroupFormed(string experimentId, int ranks, string silos);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: learner group formed again: {Before} ranks, {Lost} lost, {Replaced} replaced (state copied, {StateBytes} bytes), {After} ranks now; cause: {Cause}")]
    private partial void LogGroupReformed(string experimentId, int before, int lost, int replaced, int after, long stateBytes, string cause);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Experiment {ExperimentId}: the learner ranks agree at step {Step} (weights {Digest}…)")]
    private partial void LogGroupAgrees(string experimentId, int step, string digest);

    [LoggerMessage(Level = LogLevel.Error, Message = "Experiment {ExperimentId}: learner rank {Rank} failed during {What}: {Reason}")]
    private partial void LogGroupFailed(string experimentId, int rank, string what, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: learner rank {Rank} could not be released: {Reason}")]
    private partial void LogPeerNotReleased(string experimentId, int rank, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Learner {Learner}: a gradient segment from rank {From} (exchange {Round}) arrived outside any group and was dropped")]
    private partial void LogSegmentDropped(string learner, int from, long round);
}

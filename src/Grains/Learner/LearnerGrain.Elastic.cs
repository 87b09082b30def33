using Microsoft.Extensions.Logging;
using System.Collections.Immutable;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Grains.Learner.Group;

namespace RlhfActors.Grains.Learner;

/// <summary>Rank 0's training calls as a group, and what keeps the group going when a rank is lost: the abort, the
/// probe for lost ranks, the group formed again with replacements or fewer ranks, and the state copy a replacement
/// joins with.</summary>
public sealed partial class LearnerGrain
{
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
        var first = await GroupCall.FirstFailureAsync(parts, what, reason =>
        {
            // Abort rank 0's own exchange first: from then on its committed count no longer moves, so the round the
            // others are told is final.
            exchange.Abort(reason);
            foreach (var (_, peer) in Peers) _ = peer.AbortExchange(reason, exchange.Committed).ContinueWith(t => t.Exception, TaskScheduler.Current);
        });
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
            return replacement < 0 ? peer.Regroup(group) : GroupCall.Placed(free[replacement], () => peer.JoinGroupFromState(config, group, state!));
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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: learner group formed again: {Before} ranks, {Lost} lost, {Replaced} replaced (state copied, {StateBytes} bytes), {After} ranks now; cause: {Cause}")]
    private partial void LogGroupReformed(string experimentId, int before, int lost, int replaced, int after, long stateBytes, string cause);

    [LoggerMessage(Level = LogLevel.Error, Message = "Experiment {ExperimentId}: learner rank {Rank} failed during {What}: {Reason}")]
    private partial void LogGroupFailed(string experimentId, int rank, string what, string reason);
}

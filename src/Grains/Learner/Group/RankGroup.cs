using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Placement;

namespace RlhfActors.Grains.Learner.Group;

/// <summary>
/// Rank 0's side of a data-parallel group of a role other than the policy's learner (the PPO critic, the reward
/// model), whose ranks are grains of <typeparamref name="TRank"/>: forming the group (placement, the joins, the
/// weights-digest and device checks), one call on every rank at once (the first failure aborts the exchange everywhere
/// and stops the group), the periodic agreement check, and disbanding. Unlike the learner's group it does not re-form
/// after a lost rank: the role's owner recovers from its checkpoint (the critic) or redoes its stage (the reward
/// model), and the group forms again there.
/// </summary>
public sealed class RankGroup<TRank> where TRank : IGroupRankGrain
{
    readonly IGrainFactory _grains;
    readonly string _experimentId, _role;
    readonly ILogger _logger;

    RankGroup(IGrainFactory grains, LearnerGroup group, string experimentId, string role, ILogger logger)
    {
        (_grains, _experimentId, _role, _logger) = (grains, experimentId, role, logger);
        Exchange = RankExchange(grains, group, 0);
    }

    /// <summary>Rank 0's end of the exchange: what its own training step sums through.</summary>
    public GradientExchange Exchange { get; }

    /// <summary>The other ranks, by rank.</summary>
    public IEnumerable<(int Rank, TRank Grain)> Peers =>
        Exchange.Group.Ranks.Skip(1).Select((key, i) => (i + 1, _grains.GetGrain<TRank>(key)));

    /// <summary>Rank <paramref name="rank"/>'s end of <paramref name="group"/>'s exchange (taken on the grain's turn:
    /// the exchange sends from the device thread, which must not touch the grain).</summary>
    public static GradientExchange RankExchange(IGrainFactory grains, LearnerGroup group, int rank) =>
        new((key, segment) => grains.GetGrain<TRank>(key).Deliver(segment), group, rank);

    /// <summary>This grain's rank in <paramref name="group"/>, which must not be 0 (rank 0 forms the group).</summary>
    public static int RankOf(string key, LearnerGroup group)
    {
        int rank = group.Ranks.IndexOf(key);
        if (rank < 1) throw new ArgumentException($"'{key}' is not a rank of the group [{string.Join(", ", group.Ranks)}] other than rank 0", nameof(group));
        return rank;
    }

    /// <summary>
    /// Forms the group of <c>parallel.learners</c> ranks around rank 0 (<paramref name="own"/>): one rank per device
    /// (a resume on a cluster with fewer devices goes on with fewer ranks over the same batches; a first start with
    /// too few is refused), each joining through <paramref name="join"/>; checks the ranks hold rank 0's weights and
    /// sit on devices of their own. Null when the role trains alone.
    /// </summary>
    public static async Task<RankGroup<TRank>?> FormAsync(IGrainFactory grains, IServiceProvider services, ParallelSection parallel,
        string experimentId, string role, Func<int, string> rankKey, GrainPlacement own, Func<Task<string>> ownDigest, bool resuming,
        Func<TRank, LearnerGroup, Task<string>> join, ILogger logger)
    {
        if (!parallel.Enabled) return null;
        int ranks = RankPlacement.RanksToForm(services, parallel.Learners, resuming);
        if (ranks < parallel.Learners) logger.GroupNarrowed(experimentId, parallel.Learners, ranks, role);
        if (ranks == 1) return null;
        var group = new LearnerGroup
        {
            Ranks = [.. Enumerable.Range(0, ranks).Select(rankKey)],
            BucketBytes = parallel.BucketBytes,
            Generation = DateTimeOffset.UtcNow.UtcTicks,
        };
        var formed = new RankGroup<TRank>(grains, group, experimentId, role, logger);
        var silos = RankPlacement.ForRanks(services, own.Silo, ranks);
        var joins = formed.Peers.Select(p => GroupCall.Placed(silos[p.Rank - 1], () => join(p.Grain, group))).ToArray();
        try
        {
            var digests = await Task.WhenAll(joins);
            formed.ThrowIfDisagree(await ownDigest(), digests, "after forming");
            var placements = await Task.WhenAll(formed.Peers.Select(p => p.Grain.GetRankPlacement()));
            if (GroupChecks.SharedDevice(experimentId, role, own, placements) is { } shared) throw new LearnerGroupException(shared);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            await formed.DisbandAsync();
            throw e as LearnerGroupException ?? new LearnerGroupException($"experiment '{experimentId}': the {role} group could not form: {e.Message}");
        }
        logger.GroupFormed(experimentId, role, ranks, string.Join(", ", silos.Prepend(own.Silo)));
        return formed;
    }

    /// <summary>Rank 0's part <paramref name="own"/> and <paramref name="peerCall"/> on every other rank at once. The
    /// first failure aborts the exchange everywhere; the group is then disbanded and the call fails.</summary>
    public async Task<T> RunAsync<T>(Func<Task<T>> own, Func<TRank, Task> peerCall, string what)
    {
        var ownPart = own();
        var parts = Peers.Select(p => (p.Rank, peerCall(p.Grain))).Prepend((0, (Task)ownPart)).ToList();
        var failure = await GroupCall.FirstFailureAsync(parts, what, reason =>
        {
            Exchange.Abort(reason);
            foreach (var (_, peer) in Peers) _ = peer.AbortExchange(reason, Exchange.Committed).ContinueWith(t => t.Exception, TaskScheduler.Current);
        });
        if (failure is null) return await ownPart;
        _logger.RankFailed(_experimentId, _role, failure.Value.Rank, what, failure.Value.Error.Message);
        await DisbandAsync();
        throw new LearnerGroupException($"experiment '{_experimentId}': {_role} rank {failure.Value.Rank} failed during {what}: {failure.Value.Error.Message}");
    }

    /// <summary>Every <c>parallel.digest_every</c> steps (from <paramref name="stepBefore"/> to
    /// <paramref name="stepAfter"/>) the ranks compare their weights' SHA-256 with rank 0's.</summary>
    public async Task CheckAgreementAsync(int digestEvery, int stepBefore, int stepAfter, Func<Task<string>> ownDigest)
    {
        if (digestEvery <= 0 || stepAfter / digestEvery == stepBefore / digestEvery) return;
        var digests = await Task.WhenAll(Peers.Select(p => p.Grain.GetRankDigest()));
        ThrowIfDisagree(await ownDigest(), digests, $"at {_role} step {stepAfter}");
    }

    void ThrowIfDisagree(string own, string[] peers, string when)
    {
        if (GroupChecks.Disagreement(_experimentId, _role, own, peers, when) is { } error) throw new LearnerGroupException(error);
    }

    /// <summary>Releases the other ranks (a rank that cannot be reached is logged and left to its collection).</summary>
    public async Task DisbandAsync()
    {
        Exchange.Abort($"the {_role} group was disbanded");
        foreach (var (rank, peer) in Peers)
        {
            try { await peer.LeaveRankGroup(); }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                _logger.RankNotReleased(_experimentId, _role, rank, e.Message);
            }
        }
    }
}

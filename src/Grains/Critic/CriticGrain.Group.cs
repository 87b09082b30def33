using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Learner.Group;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Tensors;

namespace RlhfActors.Grains.Critic;

/// <summary>
/// The critic as a data-parallel group (<c>parallel.learners</c> &gt; 1 under PPO): as many ranks as the policy's
/// group, each a whole replica of the value model and its optimizer, training its rows of every minibatch and summing
/// gradients through its own exchange (<see cref="RankGroup{TRank}"/>). Rank 0 is the experiment's critic: the PPO
/// stage calls it alone; it hands each update to the other ranks, and alone gives values and checkpoints.
/// <para>The critic and the policy groups never exchange at the same time (the PPO stage trains the policy, then
/// the critic), so a critic rank may share a device worker with a policy rank; within one group, ranks may not.</para>
/// <para>A failed rank stops the critic group: rank 0 drops its own model too (its update may be half applied), so
/// the controller's recovery restores the critic from the stage's last checkpoint, where the group forms again (with
/// fewer ranks if devices were lost). The policy's group re-forms in place; the critic's does not yet.</para>
/// </summary>
public sealed partial class CriticGrain
{
    // Rank 0: the group (none alone). Another rank: its end of rank 0's exchange.
    readonly GroupMembership<ICriticRankGrain> _membership = new();

    string ExperimentId => GrainKeys.OfCritic(this.GetPrimaryKeyString()).ExperimentId;
    bool IsCoordinator => GrainKeys.OfCritic(this.GetPrimaryKeyString()).Rank == 0;

    /// <summary>What this rank's training step sums through: null alone.</summary>
    GradientExchange? Reducer => _membership.Reducer;

    GrainPlacement Placement => new() { Silo = GrainContext.Address.SiloAddress!, Device = _device.Device };

    /// <summary>Rank 0, once its own replica is ready: forms the group, every rank building the same replica (or
    /// restoring the same checkpoint).</summary>
    async Task FormGroupAsync(CriticInit init, string? checkpointDirectory)
    {
        await DisbandAsync();
        if (!IsCoordinator) return;
        var experimentId = ExperimentId;
        _membership.Lead(await RankGroup<ICriticRankGrain>.FormAsync(GrainFactory, ServiceProvider, init.Model.Config.Parallel, experimentId, "critic",
            rank => GrainKeys.CriticRank(experimentId, rank), Placement, DigestAsync, resuming: checkpointDirectory is not null,
            (peer, group) => checkpointDirectory is null ? peer.JoinCriticGroup(init, group) : peer.JoinCriticGroupFromCheckpoint(init, group, checkpointDirectory),
            logger));
    }

    /// <summary>Rank 0: its part of a training call and every other rank's at once. A failure stops the group, and
    /// rank 0 drops its model (see the class summary).</summary>
    async Task<T> InGroupAsync<T>(Func<Task<T>> own, Func<ICriticRankGrain, Task> peerCall, string what)
    {
        if (_membership.Led is not { } group) return await own();
        try
        {
            return await group.RunAsync(own, peerCall, what);
        }
        catch (LearnerGroupException)
        {
            _membership.Drop();
            await DisposeCriticAsync();
            throw;
        }
    }

    /// <summary>Rank 0: every <c>parallel.digest_every</c> critic steps the ranks compare their weights' SHA-256.</summary>
    Task CheckAgreementAsync(int stepBefore, int stepAfter) =>
        _membership.Led?.CheckAgreementAsync(_initConfig?.Parallel.DigestEvery ?? 0, stepBefore, stepAfter, DigestAsync) ?? Task.CompletedTask;

    Task<string> DigestAsync()
    {
        var critic = RequireCritic();
        return _device.RunAsync(() => PayloadDigest.Sha256(critic.Critic.ExportWeights().ToPayloads()));
    }

    /// <summary>Rank 0: releases the other ranks, if any.</summary>
    Task DisbandAsync() => _membership.DisbandAsync();

    // --- as a rank other than 0 ----------------------------------------------------------------------------------

    public async Task<string> JoinCriticGroup(CriticInit init, LearnerGroup group)
    {
        int rank = RankGroup<ICriticRankGrain>.RankOf(this.GetPrimaryKeyString(), group);
        await InitializeReplicaAsync(init);
        _membership.Join(GrainFactory, group, rank);
        return await DigestAsync();
    }

    public async Task<string> JoinCriticGroupFromCheckpoint(CriticInit init, LearnerGroup group, string checkpointDirectory)
    {
        int rank = RankGroup<ICriticRankGrain>.RankOf(this.GetPrimaryKeyString(), group);
        await RestoreReplicaAsync(init, checkpointDirectory);
        _membership.Join(GrainFactory, group, rank);
        return await DigestAsync();
    }

    public async Task TrainRank(CriticTrainRequest request)
    {
        var critic = RequireCritic();
        var batch = request.Rollouts.ToBatch();
        var reducer = _membership.Reducer;
        await _device.RunAsync(() => critic.Step(batch, [.. request.Returns], [.. request.OldValues], request.LearningRate, reducer));
    }

    public Task<string> GetRankDigest() => DigestAsync();

    public Task<GrainPlacement> GetRankPlacement() => Task.FromResult(Placement);

    public Task Deliver(GradientSegment segment) => _membership.Deliver(segment);

    public Task AbortExchange(string reason, long committedRound) => _membership.Abort(reason, committedRound);

    public Task LeaveRankGroup() => Release();
}

using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Learner.Group;
using RlhfActors.Grains.Tensors;

namespace RlhfActors.Grains.Rewards;

/// <summary>
/// The reward model's training as a data-parallel group (<c>parallel.learners</c> &gt; 1): while the reward-model
/// stage trains, as many ranks as the policy's group each hold a whole replica of the reward model, its optimizer and
/// its pair order, train their pairs of every batch with the batch's pair count as the normaliser, and sum gradients
/// through their exchange (<see cref="RankGroup{TRank}"/>). Rank 0 is the experiment's reward model: it alone
/// evaluates, saves and later scores, and it releases the other ranks when the stage saves the model. A failed rank
/// stops the group and the call; the controller then does the stage again from its start (as for any interruption of
/// this stage), where the group forms again.
/// </summary>
public sealed partial class RewardModelGrain
{
    // Rank 0: the group while training (none alone or once saved). Another rank: its end of rank 0's exchange.
    readonly GroupMembership<IRewardModelRankGrain> _membership = new();
    int _digestEvery;

    string ExperimentId => GrainKeys.OfRewardModel(this.GetPrimaryKeyString()).ExperimentId;
    bool IsCoordinator => GrainKeys.OfRewardModel(this.GetPrimaryKeyString()).Rank == 0;

    GrainPlacement Placement => new() { Silo = GrainContext.Address.SiloAddress!, Device = _device.Device };

    /// <summary>Rank 0, once its own trainer is ready: forms the group when there are steps to train.</summary>
    async Task FormGroupAsync(RewardModelInit init, string? trainedFolder)
    {
        await DisbandAsync();
        var config = init.Model.Config;
        _digestEvery = config.Parallel.DigestEvery;
        if (!IsCoordinator || config.RewardModel.Steps == 0) return;
        var experimentId = ExperimentId;
        _membership.Lead(await RankGroup<IRewardModelRankGrain>.FormAsync(GrainFactory, ServiceProvider, config.Parallel, experimentId, "reward model",
            rank => GrainKeys.RewardModelRank(experimentId, rank), Placement, DigestAsync, resuming: false,
            (peer, group) => peer.JoinRewardModelGroup(init, trainedFolder, group), logger));
    }

    Task<string> DigestAsync()
    {
        var trainer = RequireTrainer();
        return _device.RunAsync(() => PayloadDigest.Sha256(trainer.ExportWeights().ToPayloads()));
    }

    /// <summary>Rank 0: releases the other ranks, if any.</summary>
    Task DisbandAsync() => _membership.DisbandAsync();

    // --- as a rank other than 0 ----------------------------------------------------------------------------------

    public async Task<string> JoinRewardModelGroup(RewardModelInit init, string? trainedFolder, LearnerGroup group)
    {
        int rank = RankGroup<IRewardModelRankGrain>.RankOf(this.GetPrimaryKeyString(), group);
        await StartAsync(init, trainedFolder);
        _membership.Join(GrainFactory, group, rank);
        return await DigestAsync();
    }

    public async Task TrainRewardModelRank(int steps)
    {
        var trainer = RequireTrainer();
        var reducer = _membership.Reducer;
        await _device.RunAsync(() =>
        {
            for (int i = 0; i < steps; i++) trainer.Step(reducer);
        });
    }

    public Task<string> GetRankDigest() => DigestAsync();

    public Task<GrainPlacement> GetRankPlacement() => Task.FromResult(Placement);

    public Task Deliver(GradientSegment segment) => _membership.Deliver(segment);

    public Task AbortExchange(string reason, long committedRound) => _membership.Abort(reason, committedRound);

    public Task LeaveRankGroup() => Release();
}

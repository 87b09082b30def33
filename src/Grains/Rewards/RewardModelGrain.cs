using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Rewards;

using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Rewards;

/// <summary>
/// Holds an experiment's reward function (verifiers and/or an HTTP endpoint, weighted) and scores completions.
/// Verifiers are plain .NET and cheap, so this grain needs no device and goes wherever Orleans puts it; an HTTP reward
/// awaits the endpoint without blocking a scheduler thread. Learned reward models join in the preference issue.
/// </summary>
[ControlPlanePlacement]
public sealed partial class RewardModelGrain(ILogger<RewardModelGrain> logger) : Grain, IRewardModelGrain
{
    CompositeReward? _reward;
    string? _key;

    public Task Initialize(ExperimentConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var key = Digests.ConfigToJson(config);
        if (_reward is not null && key == _key) return Task.CompletedTask;
        var reward = RewardRegistry.Create(GrpoSpecs.Reward(config), config.Data.Task);
        DisposeReward();
        (_reward, _key) = (reward, key);
        LogInitialized(this.GetPrimaryKeyString(), string.Join(" + ", reward.Components.Select(c => $"{c.Weight}·{c.Reward.Name}")));
        return Task.CompletedTask;
    }

    public async Task<ImmutableArray<double>> Score(RewardBatch batch)
    {
        var reward = _reward ?? throw new InvalidOperationException(
            $"reward model '{this.GetPrimaryKeyString()}' is not initialized: call Initialize first (or it was deactivated)");
        var scores = await reward.ScoreAsync(batch.ToRequests(), CancellationToken.None);
        return [.. scores];
    }

    public Task Release()
    {
        DisposeReward();
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        DisposeReward();
        return base.OnDeactivateAsync(reason, cancellationToken);
    }

    void DisposeReward()
    {
        _reward?.Dispose();
        (_reward, _key) = (null, null);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reward model {ExperimentId}: {Terms}")]
    private partial void LogInitialized(string experimentId, string terms);
}

namespace RlhfActors.Training.Rewards;

/// <summary>Scores generated completions for online RL (GRPO / PPO): one score per request, in request order.
/// Asynchronous because a reward may live behind HTTP (<see cref="HttpReward"/>); local rewards complete
/// synchronously. Scoring a whole batch at once lets a remote scorer amortise its per-call cost.</summary>
public interface IRewardFunction
{
    /// <summary>The name used in configs and metrics, e.g. "exact_match".</summary>
    string Name { get; }

    /// <summary>Returns exactly <c>batch.Count</c> finite scores, the i-th for <c>batch[i]</c>.</summary>
    Task<double[]> ScoreAsync(IReadOnlyList<RewardRequest> batch, CancellationToken ct);
}

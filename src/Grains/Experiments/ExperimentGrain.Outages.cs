using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Rollouts;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// An outage of a reward server pauses the run, never fails it: the reward grain reports a server that stayed down
/// through its retries as an answer (<c>RewardScores.Unavailable</c>), the step that needed the rewards is abandoned
/// before anything of it was applied, and the run is Paused with the reason. <c>rlhf resume</c> retries that step
/// whole (its prompts and sampling seeds are the step's own, so in sync mode the retried step is the one an
/// uninterrupted run takes). The RLAIF judge pauses the same way (ExperimentGrain.Rlaif).
/// </summary>
public sealed partial class ExperimentGrain
{
    /// <summary>Raised inside the controller only, from the rewards of the step being assembled to the stage step,
    /// which pauses.</summary>
    sealed class RewardOutageException(string reason) : Exception(reason);

    async Task<ImmutableArray<double>> ScoreAsync(RewardBatch batch)
    {
        var result = await Reward.Score(batch);
        return result.Unavailable is { } why ? throw new RewardOutageException(why) : result.Scores;
    }

    /// <summary>Pauses before <paramref name="what"/> (nothing of it was applied) with the outage as the reason.</summary>
    void PauseForOutage(string what, string reason)
    {
        SetStatus(s => s with
        {
            State = ExperimentState.Paused,
            Phase = $"{what}: reward unavailable",
            Error = $"reward unavailable before {what} (resume to retry it): {reason}",
        });
        StartLoop(PausedTickPeriod);
        LogRewardUnavailable(ExperimentId, what, reason);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: reward unavailable before {What}; paused: {Reason}")]
    private partial void LogRewardUnavailable(string experimentId, string what, string reason);
}

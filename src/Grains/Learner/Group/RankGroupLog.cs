using Microsoft.Extensions.Logging;

namespace RlhfActors.Grains.Learner.Group;

/// <summary><see cref="RankGroup{TRank}"/>'s log lines (a generic class cannot hold [LoggerMessage] methods).</summary>
static partial class RankGroupLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: {Role} group of {Ranks} formed on silos {Silos}; the ranks hold the same weights")]
    public static partial void GroupFormed(this ILogger logger, string experimentId, string role, int ranks, string silos);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: parallel.learners is {Learners}, but the cluster now offers {Devices} device(s); the restored {Role} goes on with that many ranks")]
    public static partial void GroupNarrowed(this ILogger logger, string experimentId, int learners, int devices, string role);

    [LoggerMessage(Level = LogLevel.Error, Message = "Experiment {ExperimentId}: {Role} rank {Rank} failed during {What}: {Reason}; the group stops")]
    public static partial void RankFailed(this ILogger logger, string experimentId, string role, int rank, string what, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: {Role} rank {Rank} could not be released: {Reason}")]
    public static partial void RankNotReleased(this ILogger logger, string experimentId, string role, int rank, string reason);
}

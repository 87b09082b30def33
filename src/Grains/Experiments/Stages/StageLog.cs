using Microsoft.Extensions.Logging;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>The stages' log lines (the controller's own are on <c>ExperimentGrain</c>).</summary>
static partial class StageLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: step {Step}, policy version {Version}: held-out accuracy {Accuracy:P1} ({Correct}/{Examples})")]
    public static partial void Evaluated(this ILogger logger, string experimentId, int step, long version, double accuracy, int correct, int examples);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: watched task {Task} at step {Step}: accuracy {Accuracy:P1} (before training {Before:P1})")]
    public static partial void Watched(this ILogger logger, string experimentId, string task, int step, double accuracy, double before);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: metrics lines not written yet (kept for the next try): {Reason}")]
    public static partial void MetricsUnwritten(this ILogger logger, string experimentId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: rollout trace of step {Step} not written: {Reason}")]
    public static partial void TraceUnwritten(this ILogger logger, string experimentId, int step, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: rollout traces reached trace_max_mb ({MaxMb} MiB, {Bytes} bytes in {Files} files) at step {Step}: later batches are not traced")]
    public static partial void TraceCapReached(this ILogger logger, string experimentId, int maxMb, long bytes, int files, int step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: an old checkpoint could not be deleted (checkpoint.keep): {Reason}")]
    public static partial void PruneFailed(this ILogger logger, string experimentId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: reward unavailable before {What}; paused: {Reason}")]
    public static partial void RewardUnavailable(this ILogger logger, string experimentId, string what, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: GRPO from policy version {Version}, {Mode} mode, {Samplers} sampler(s)")]
    public static partial void GrpoStarted(this ILogger logger, string experimentId, long version, string mode, int samplers);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: PPO from policy version {Version}, {Samplers} sampler(s)")]
    public static partial void PpoStarted(this ILogger logger, string experimentId, long version, int samplers);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Experiment {ExperimentId}: PPO step {Step}: score {Score:F3}, KL {Kl:F4}, value loss {ValueLoss:F4}, explained variance {Ev:F3}")]
    public static partial void PpoStep(this ILogger logger, string experimentId, int step, double score, double kl, double valueLoss, double ev);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: reward model trained {Steps} steps; held-out preference accuracy {Before:P1} → {After:P1} on {Pairs} pairs; saved to {Folder}")]
    public static partial void RewardModelTrained(this ILogger logger, string experimentId, int steps, double before, double after, int pairs, string folder);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: DPO from policy version {Version} on {Train} pairs ({Eval} held out; preference accuracy {Accuracy:P1} before)")]
    public static partial void DpoStarted(this ILogger logger, string experimentId, long version, int train, int eval, double accuracy);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: step {Step}: held-out preference accuracy {Accuracy:P1} ({Correct}/{Pairs}), margin {Margin:F3}")]
    public static partial void PairsEvaluated(this ILogger logger, string experimentId, int step, double accuracy, int correct, int pairs, double margin);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: {Stage} with a {Judge} judge, {Rounds} rounds")]
    public static partial void RlaifStarted(this ILogger logger, string experimentId, string stage, string judge, int rounds);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Experiment {ExperimentId}: online DPO step {Step}: {Pairs} pairs from {Prompts} prompts ({Ties} ties dropped), loss {Loss:F4}")]
    public static partial void OnlineDpoStep(this ILogger logger, string experimentId, int step, int pairs, int prompts, int ties, double loss);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: round {Round}: {Pairs} judged pairs (judge agrees with the verifier on {Agreement:P1}); held-out accuracy {Accuracy:P1}")]
    public static partial void Round(this ILogger logger, string experimentId, int round, int pairs, double agreement, double accuracy);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: round {Round}: judge unavailable; paused with {Pending} prompts pending")]
    public static partial void JudgeUnavailable(this ILogger logger, string experimentId, int round, int pending);
}

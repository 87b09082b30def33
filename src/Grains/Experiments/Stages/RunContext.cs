using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Abstractions.Sampling;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Metrics;
using RlhfActors.Training.Rl;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// What every stage shares of its run: the persisted record and its status, the run's role grains, and the
/// boundaries every stage has (publish, evaluate, checkpoint, pause), written once here. The controller grain owns
/// the record and the timer; a stage only changes the record inside a tick.
/// </summary>
public sealed class RunContext(
    IGrainFactory grains,
    string experimentId,
    Func<ExperimentRecord> record,
    Func<ControllerCursor> cursor,
    Func<ExperimentStage?> runningStage,
    int stepsPerCall,
    ILogger logger)
{
    public string ExperimentId => experimentId;
    public ExperimentRecord Record => record();
    public ExperimentConfig Config => Record.Config ?? throw new InvalidOperationException("experiment has no config");
    public ILogger Logger => logger;
    /// <summary>The run's metrics history (metrics.jsonl, TensorBoard).</summary>
    public RunMetrics Metrics { get; } = new(record, runningStage);
    /// <summary>The run's rollout traces (trace_rollouts: &lt;output_dir&gt;/rollouts/).</summary>
    public RunTraces Traces => _traces ??= new(this);
    RunTraces? _traces;
    /// <summary>Training steps per learner call (ExperimentDriverOptions).</summary>
    public int StepsPerCall => stepsPerCall;

    public ILearnerGrain Learner => grains.GetGrain<ILearnerGrain>(experimentId);
    public IPolicyGrain Policy => grains.GetGrain<IPolicyGrain>(experimentId);
    public IRolloutSamplerGrain Sampler => SamplerAt(0);
    public IRolloutSamplerGrain SamplerAt(int index) => grains.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(experimentId, index));
    public IRewardModelGrain Reward => grains.GetGrain<IRewardModelGrain>(experimentId);
    public IReferenceGrain Reference => grains.GetGrain<IReferenceGrain>(experimentId);
    public ICriticGrain Critic => grains.GetGrain<ICriticGrain>(experimentId);
    public IJudgeGrain Judge => grains.GetGrain<IJudgeGrain>(experimentId);
    /// <summary>A teacher grain: keyed by its weights (<see cref="GrainKeys.Teacher"/>), not by this experiment.</summary>
    public ITeacherGrain Teacher(string key) => grains.GetGrain<ITeacherGrain>(key);

    public void SetStatus(Func<ExperimentStatus, ExperimentStatus> change) => Record.Status = change(Record.Status);

    /// <summary>Marks the start of a stage: its name in the status, its clock.</summary>
    public void BeginStage(string stage, string phase)
    {
        Record.StageStartedAt = DateTimeOffset.UtcNow;
        Record.StageStartStep = Record.Status.Step;
        SetStatus(s => s with { Stage = stage, Phase = phase });
    }

    /// <summary>Closes the running stage with its figures, into the status and (at the end) the result.</summary>
    public void EndStage(ImmutableSortedDictionary<string, double> metrics, int? steps = null)
    {
        Metrics.CloseWindow(Record.Status.Step);
        var started = Record.StageStartedAt ?? DateTimeOffset.UtcNow;
        Record.Stages.Add(new StageSummary
        {
            Name = Record.Status.Stage,
            Steps = steps ?? Record.Status.Step - Record.StageStartStep,
            Seconds = (DateTimeOffset.UtcNow - started).TotalSeconds,
            Metrics = metrics,
        });
        SetStatus(s => s with { Stages = [.. Record.Stages] });
    }

    /// <summary>The most steps the next learner call may take at step <paramref name="done"/> of a stage of
    /// <paramref name="total"/> steps: a call never crosses an evaluation or checkpoint boundary.</summary>
    public int ChunkSize(int done, int total) =>
        Math.Min(Math.Min(stepsPerCall, total - done),
            Math.Min(StepsToBoundary(done, Config.Eval.Every), StepsToBoundary(done, Config.Checkpoint.Every)));

    /// <summary>The one boundary helper of every stage: after step <paramref name="done"/> of the stage, evaluates
    /// (and runs <paramref name="alsoEvaluate"/>) on <c>eval.every</c>, checkpoints on <c>checkpoint.every</c>.</summary>
    public async Task AtBoundaryAsync(int done, Func<Task>? alsoEvaluate = null)
    {
        var config = Config;
        if (IsBoundary(done, config.Eval.Every))
        {
            await EvaluateAsync();
            if (alsoEvaluate is not null) await alsoEvaluate();
        }
        if (IsBoundary(done, config.Checkpoint.Every)) await CheckpointAsync();
        SetStatus(s => s with { Phase = "training" });
    }

    /// <summary>Publishes the current weights (unless this step's are already published) and evaluates them; the
    /// evaluation of a step and version already evaluated is not taken twice (a stage's last evaluation is also the
    /// run's final one).</summary>
    public async Task<EvalSummary> EvaluateAsync()
    {
        SetStatus(s => s with { Phase = "evaluating" });
        var version = await PublishAsync();
        if (Record.Evals is [.., var latest] && latest.Step == Record.Status.Step && latest.PolicyVersion == version) return latest;
        // Idempotent: rebuilds the sampler only if its activation was collected since the last evaluation.
        await Sampler.Initialize(Record.SamplerInit!);
        var eval = await Sampler.Evaluate(version);
        Record.Evals.Add(eval);
        await RunEvalRecord.WriteAsync(this, eval);
        SetStatus(s => s with { LatestEval = eval, Evals = [.. Record.Evals] });
        Metrics.At(eval.Step, new Dictionary<string, double> { [MetricNames.EvalAccuracy] = eval.Accuracy }, eval.PolicyVersion);
        if (Config.Eval.Watch.Length > 0) await EvaluateWatchedAsync(version);
        logger.Evaluated(ExperimentId, eval.Step, eval.PolicyVersion, eval.Accuracy, eval.Correct, eval.Examples);
        return eval;
    }

    /// <summary>The forgetting watch: every watched task at this evaluation; retention = now ÷ before training.</summary>
    async Task EvaluateWatchedAsync(long version)
    {
        var evals = await Sampler.EvaluateWatched(version);
        var retention = ImmutableArray.CreateBuilder<RetentionSummary>();
        foreach (var (watch, eval) in Config.Eval.Watch.Zip(evals))
        {
            if (!Record.Watched.TryGetValue(watch.Name, out var history)) Record.Watched[watch.Name] = history = [];
            history.Add(eval);
            Metrics.At(eval.Step, new Dictionary<string, double> { [MetricNames.Watched(watch.Name)] = eval.Accuracy });
            double before = history[0].Accuracy;
            retention.Add(new RetentionSummary
            {
                Name = watch.Name,
                Before = before,
                Latest = eval.Accuracy,
                Retention = before > 0 ? eval.Accuracy / before : null,
                Evals = [.. history],
            });
            logger.Watched(ExperimentId, watch.Name, eval.Step, eval.Accuracy, before);
        }
        SetStatus(s => s with { Retention = retention.ToImmutable() });
    }

    public async Task<long> PublishAsync()
    {
        var step = Record.Status.Step;
        if (Record.PublishedStep == step) return Record.Status.PolicyVersion;
        var info = await Learner.PublishPolicy();
        Record.PublishedStep = info.Step;
        SetStatus(s => s with { PolicyVersion = info.Version });
        return info.Version;
    }

    /// <summary>Writes <c>checkpoint-&lt;step&gt;</c>: the learner's state and the controller's cursor at this step,
    /// with provenance; then keeps the newest <c>checkpoint.keep</c> (and those a stage still needs).</summary>
    public async Task<CheckpointResult> CheckpointAsync()
    {
        SetStatus(s => s with { Phase = "checkpointing" });
        var config = Config;
        // The checkpoint's weights are a published version, so its provenance can name the version exactly.
        var version = await PublishAsync();
        var step = Record.Status.Step;
        // What the learner's checkpoint does not hold (the PPO critic) is saved first, so the cursor can name it.
        if (runningStage() is { } stage) await stage.BeforeCheckpointAsync(step);
        // The lines up to this step are in the file before the cursor records its length.
        if (Metrics.TryFlush(all: true) is { } metricsError) logger.MetricsUnwritten(ExperimentId, metricsError);
        var provenance = CheckpointProvenance.Create(ExperimentId, config, Record.Learner, version, step);
        var result = await Learner.SaveCheckpoint(new CheckpointRequest
        {
            Directory = OutputDirectory.Checkpoint(config.OutputDir, step),
            Provenance = provenance,
            ControllerState = cursor().ToJson(),
        });
        SetStatus(s => s with { CheckpointPath = result.Path });
        try
        {
            OutputDirectory.Prune(config.OutputDir, config.Checkpoint.Keep, [.. runningStage()?.PinnedCheckpoints ?? []]);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An old checkpoint left behind costs disk, not correctness.
            logger.PruneFailed(ExperimentId, e.Message);
        }
        return result;
    }

    /// <summary>Pauses the run before <paramref name="what"/> (nothing of it was applied) with <paramref name="error"/>
    /// as the reason; the controller slows its loop once the tick ends. <c>rlhf resume</c> continues.</summary>
    public void Pause(string phase, string error) =>
        SetStatus(s => s with { State = ExperimentState.Paused, Phase = phase, Error = error });

    /// <summary>Pauses before <paramref name="what"/> because the reward server stayed down.</summary>
    public void PauseForOutage(string what, string reason)
    {
        Pause($"{what}: reward unavailable", $"reward unavailable before {what} (resume to retry it): {reason}");
        logger.RewardUnavailable(ExperimentId, what, reason);
    }

    /// <summary>The rewards of <paramref name="rollouts"/>, one per row; a server that stayed down through its retries is raised as
    /// <see cref="RewardOutageException"/>, which the stage turns into a pause.</summary>
    public async Task<ImmutableArray<double>> ScoreAsync(RolloutBatchMessage rollouts) => (await ScoreTermsAsync(rollouts)).Scores;

    /// <summary><see cref="ScoreAsync"/>, with each reward term's scores.</summary>
    public async Task<RewardScores> ScoreTermsAsync(RolloutBatchMessage rollouts)
    {
        var result = await Reward.Score(rollouts);
        if (result.Unavailable is { } why) throw new RewardOutageException(why);
        Traces.NoteComponents(rollouts, result.Components);
        return result;
    }

    /// <summary>Completions for <paramref name="plan"/>'s next <paramref name="prompts"/> prompts, split over the
    /// samplers, with version <paramref name="minVersion"/> or newer (default: the newest published). Sampler i
    /// draws with seed index <paramref name="seedIndex"/> + i (GRPO's dynamic-sampling refills move it on).</summary>
    public async Task<RolloutBatchMessage> SampleAsync(GrpoPlan plan, int step, int prompts, int perPrompt, int maxNewTokens, double temperature,
        int samplers, long? minVersion = null, int seedIndex = 0)
    {
        long version = minVersion ?? Record.Status.PolicyVersion;
        var shards = GrpoPlan.Split(plan.NextPrompts(prompts), samplers);
        var parts = await Task.WhenAll(shards.Select((shard, i) => SamplerAt(i).Generate(new RolloutRequest
        {
            Step = step,
            Shard = i,
            Prompts = shard.ToPromptItems(),
            GroupSize = perPrompt,
            MaxNewTokens = maxNewTokens,
            Temperature = temperature,
            Seed = plan.ShardSeed(step, seedIndex + i),
            MinVersion = version,
        })));
        Traces.NoteShards(parts);
        return RolloutBatchMessage.Concat(parts);
    }

    static int StepsToBoundary(int step, int every) => every > 0 ? every - step % every : int.MaxValue;

    static bool IsBoundary(int step, int every) => every > 0 && step % every == 0;
}

/// <summary>A reward server stayed down: raised inside the controller only, from the rewards of the step being
/// assembled to the stage step, which pauses (nothing of the step was applied).</summary>
public sealed class RewardOutageException(string reason) : Exception(reason);

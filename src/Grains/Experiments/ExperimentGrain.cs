using System.Collections.Immutable;
using System.Diagnostics;
using System.Globalization;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Sampling;
using RlhfActors.Grains.Specs;

using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// Drives one experiment: initialise learner and sampler → publish v0 → evaluate → train in chunks (evaluating and
/// checkpointing on schedule) → publish → final evaluation → checkpoint with provenance → Completed.
/// <para>
/// The loop runs as a grain timer, one unit of work (a chunk of steps, an evaluation) per tick. A tick is a turn
/// like a grain call (Interleave = false), so state changes stay single-threaded and <see cref="Start"/> waits for at
/// most one chunk; <see cref="GetStatus"/> and <see cref="GetResult"/> are [AlwaysInterleave] (declared on the
/// interface) and answer while a tick awaits the learner, which is safe because they only read fields that a tick
/// replaces whole. KeepAlive makes every tick count as activity, so the controller is not collected mid-run.
/// </para>
/// </summary>
[ControlPlanePlacement]
public sealed partial class ExperimentGrain(
    [PersistentState("experiment", GrainStorage.Experiments)] IPersistentState<ExperimentRecord> state,
    IOptions<ExperimentDriverOptions> options,
    ILogger<ExperimentGrain> logger) : Grain, IExperimentGrain
{
    enum Phase { Initialize, Recover, Train, GrpoStart, GrpoTrain, RewardModelStart, RewardModelTrain, DpoStart, DpoTrain, PpoStart, PpoTrain, RlaifStart, RlaifRound, Finish }

    // Running, the loop ticks as fast as the work allows; paused, it ticks only so that KeepAlive keeps the
    // controller (and with it the paused run) from being collected as idle.
    static readonly TimeSpan TickPeriod = TimeSpan.FromMilliseconds(1);
    static readonly TimeSpan PausedTickPeriod = TimeSpan.FromSeconds(10);

    readonly int _stepsPerCall = options.Value.StepsPerCall;
    IGrainTimer? _timer;
    Phase _phase;

    ExperimentRecord Record => state.State;
    ExperimentConfig Config => Record.Config ?? throw new InvalidOperationException("experiment has no config");
    string ExperimentId => this.GetPrimaryKeyString();
    ILearnerGrain Learner => GrainFactory.GetGrain<ILearnerGrain>(ExperimentId);
    IRolloutSamplerGrain Sampler => SamplerAt(0);
    IRolloutSamplerGrain SamplerAt(int index) => GrainFactory.GetGrain<IRolloutSamplerGrain>(GrainKeys.Sampler(ExperimentId, index));
    IRewardModelGrain Reward => GrainFactory.GetGrain<IRewardModelGrain>(ExperimentId);
    IReferenceGrain Reference => GrainFactory.GetGrain<IReferenceGrain>(ExperimentId);
    ICriticGrain Critic => GrainFactory.GetGrain<ICriticGrain>(ExperimentId);
    IJudgeGrain Judge => GrainFactory.GetGrain<IJudgeGrain>(ExperimentId);

    /// <summary>Rollout samplers the run's online stage uses (evaluation uses the first).</summary>
    static int SamplerCount(ExperimentConfig config) => config.Algorithm switch
    {
        ExperimentConfig.GrpoAlgorithm => config.Grpo.Samplers,
        ExperimentConfig.PpoAlgorithm => config.Ppo.Samplers,
        ExperimentConfig.RlaifAlgorithm => config.Rlaif.Samplers,
        _ => 1,
    };

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A persisted run that is still "running" (or paused) lost its loop with the old activation (its silo died or
        // shut down). A run that can resume recovers from its newest checkpoint: at once when running, at Resume when
        // paused. The others are reported interrupted.
        if (Record.Status.State is ExperimentState.Running or ExperimentState.Paused && Record.Config is { } config && CanResume(config))
        {
            _phase = Phase.Recover;
            SetStatus(s => s with { Phase = "recovering: the controller was re-activated (its silo was lost or shut down)" });
            await state.WriteStateAsync(cancellationToken);
            if (Record.Status.State is ExperimentState.Running) StartLoop(TickPeriod);
        }
        else if (Record.Status.State is ExperimentState.Running or ExperimentState.Paused)
        {
            SetStatus(s => s with
            {
                State = ExperimentState.Failed,
                Phase = "interrupted",
                Error = "the run was interrupted (its grain was re-activated, e.g. after a silo restart); " +
                        "resuming from a checkpoint is not implemented yet",
            });
            await state.WriteStateAsync(cancellationToken);
        }
        await base.OnActivateAsync(cancellationToken);
    }

    public Task Start(ExperimentConfig config) => StartAsync(config, fromCheckpoint: false);

    public Task StartFromCheckpoint(ExperimentConfig config) => StartAsync(config, fromCheckpoint: true);

    async Task StartAsync(ExperimentConfig config, bool fromCheckpoint)
    {
        ArgumentNullException.ThrowIfNull(config);
        ExperimentConfigValidator.ThrowIfInvalid(config);
        if (config.Name != ExperimentId)
            throw new ArgumentException($"config name '{config.Name}' does not match experiment '{ExperimentId}'", nameof(config));
        if (Record.Status.State is ExperimentState.Running)
            throw new InvalidOperationException($"experiment '{ExperimentId}' is already running (step {Record.Status.Step}/{Record.Status.TotalSteps})");
        if (Record.Status.State is ExperimentState.Paused)
            throw new InvalidOperationException($"experiment '{ExperimentId}' is paused at step {Record.Status.Step}/{Record.Status.TotalSteps}: resume or stop it first");
        if (fromCheckpoint)
        {
            if (!CanResume(config))
                throw new ArgumentException($"a {config.Algorithm} run cannot resume from a checkpoint yet (sft runs can); start it afresh in another output_dir");
            var newest = OutputDirectory.Checkpoints(config.OutputDir) is [var first, ..] ? first.Path
                : throw new ArgumentException($"output_dir '{config.OutputDir}' holds no checkpoint to resume from");
            ResumeCompatibility.ThrowIfDifferent(newest, config);
        }
        else if (OutputDirectory.EarlierCheckpoint(config.OutputDir) is { } earlier)
            throw new InvalidOperationException(
                $"output_dir '{config.OutputDir}' already holds {earlier} from an earlier run; remove it, choose another output_dir, " +
                "or continue it with --resume");
        // Before any state is written: an unwritable folder or one another experiment holds is refused at start.
        OutputDirectoryClaim.Claim(config.OutputDir, ExperimentId);

        state.State = new ExperimentRecord
        {
            Config = config,
            StartedAt = DateTimeOffset.UtcNow,
            Status = new ExperimentStatus
            {
                ExperimentId = ExperimentId,
                Algorithm = config.Algorithm,
                State = ExperimentState.Running,
                Phase = fromCheckpoint ? "recovering: resuming from output_dir" : "initializing",
                TotalSteps = config.TotalSteps,
            },
        };
        await state.WriteStateAsync();
        // After the record is written: a listed run always has a record to show.
        await GrainFactory.GetGrain<IExperimentDirectoryGrain>(GrainKeys.ExperimentDirectory).Register(ExperimentId);
        _phase = fromCheckpoint ? Phase.Recover : Phase.Initialize;
        _recoveringSince = null;
        StartLoop(TickPeriod);
        await RegisterKeepAliveAsync();
        LogStarted(ExperimentId, config.Algorithm, config.TotalSteps);
    }

    public Task<ExperimentStatus> GetStatus()
    {
        var status = Record.Status;
        var end = Record.FinishedAt ?? DateTimeOffset.UtcNow;
        var elapsed = Record.StartedAt is { } started ? end - started : TimeSpan.Zero;
        TimeSpan? eta = status.State is ExperimentState.Running && status.Step > 0
            ? TimeSpan.FromSeconds(Record.TrainSeconds / status.Step * (status.TotalSteps - status.Step))
            : null;
        return Task.FromResult(status with { Elapsed = elapsed, Eta = eta });
    }

    public Task<ExperimentResult?> GetResult() => Task.FromResult(Record.Result);

    public async Task<ExperimentStatus> Stop(string reason)
    {
        if (Record.Status.State is ExperimentState.Running or ExperimentState.Paused)
        {
            StopLoop();
            // Before the release: the checkpoint is written from the learner's model, which the release frees.
            var checkpointError = await CheckpointOnStopAsync();
            Record.FinishedAt = DateTimeOffset.UtcNow;
            SetStatus(s => s with { State = ExperimentState.Stopped, Phase = "stopped", Error = $"stopped: {reason}{checkpointError}" });
            LogStopped(ExperimentId, Record.Status.Step, reason);
            await ReleaseWorkersAsync();
            await state.WriteStateAsync();
            await UnregisterKeepAliveAsync();
        }
        return await GetStatus();
    }

    public async Task<ExperimentStatus> Pause()
    {
        var status = Record.Status;
        if (status.State is not ExperimentState.Running)
            throw new InvalidOperationException($"experiment '{ExperimentId}' is {Describe(status)}: only a running experiment can be paused");
        // Not interleaved, so the chunk in flight has finished: the pause lands between units of work.
        SetStatus(s => s with { State = ExperimentState.Paused });
        StartLoop(PausedTickPeriod);
        LogPaused(ExperimentId, status.Step);
        await state.WriteStateAsync();
        return await GetStatus();
    }

    public async Task<ExperimentStatus> Resume()
    {
        var status = Record.Status;
        if (status.State is ExperimentState.Failed && Record.Config is { } config && CanResume(config))
        {
            // A failed or interrupted run continues from its newest checkpoint (or from the start without one).
            Record.FinishedAt = null;
            _phase = Phase.Recover;
            _recoveringSince = null;
            SetStatus(s => s with { State = ExperimentState.Running, Phase = "recovering: resumed after it failed", Error = null });
            StartLoop(TickPeriod);
            await RegisterKeepAliveAsync();
            LogResumed(ExperimentId, status.Step);
            await state.WriteStateAsync();
            return await GetStatus();
        }
        if (status.State is not ExperimentState.Paused)
            throw new InvalidOperationException($"experiment '{ExperimentId}' is {Describe(status)}: only a paused experiment can be resumed" +
                                                (Record.Config is { } c && CanResume(c) ? " (or a failed one, from its newest checkpoint)" : ""));
        // The loop's phase and the learner's model are as the pause left them, so the next tick continues there. A
        // pause's reason (an outage) is history once resumed.
        SetStatus(s => s with { State = ExperimentState.Running, Error = null });
        StartLoop(TickPeriod);
        LogResumed(ExperimentId, status.Step);
        await state.WriteStateAsync();
        return await GetStatus();
    }

    async Task TickAsync(CancellationToken cancellationToken)
    {
        // Paused too: the timer still ticks (slowly, see PausedTickPeriod) but no work runs until Resume.
        if (Record.Status.State is not ExperimentState.Running) return;
        try
        {
            switch (_phase)
            {
                case Phase.Initialize: await InitializeAsync(); break;
                case Phase.Recover: await RecoverAsync(); break;
                case Phase.Train: await TrainChunkAsync(); break;
                case Phase.GrpoStart: await StartGrpoAsync(); break;
                case Phase.GrpoTrain: await GrpoStepAsync(); break;
                case Phase.RewardModelStart: await StartRewardModelAsync(); break;
                case Phase.RewardModelTrain: await RewardModelChunkAsync(); break;
                case Phase.DpoStart: await StartDpoAsync(); break;
                case Phase.DpoTrain: await DpoChunkAsync(); break;
                case Phase.PpoStart: await StartPpoAsync(); break;
                case Phase.PpoTrain: await PpoStepAsync(); break;
                case Phase.RlaifStart: await StartRlaifAsync(); break;
                case Phase.RlaifRound: await RlaifRoundAsync(); break;
                case Phase.Finish: await FinishAsync(); break;
            }
            // Not with the tick's token: finishing disposes the timer, which cancels it, and the final state must
            // still be written.
            await state.WriteStateAsync();
        }
        catch (Exception e)
        {
            // A lost worker is recovered from the newest checkpoint; any other failure ends the run.
            if (Record.Config is { } config && CanResume(config) && await LostWorkerAsync(e) && BeginRecovery(FirstLine(e.Message)))
            {
                await state.WriteStateAsync();
                return;
            }
            await FailAsync(e);
        }
    }

    static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end > 0 ? message[..end] : message;
    }

    async Task InitializeAsync()
    {
        var config = Config;
        var info = await Learner.Initialize(config);
        Record.Learner = info;
        Record.SamplerInit = new SamplerInit { Config = config, ModelConfigJson = info.ModelConfigJson };
        var before = await EvaluateAsync();
        SetStatus(s => s with { AccuracyBefore = before.Accuracy, Phase = "training" });
        if (config.HasWarmUp) Record.AccuracyAtStart = before.Accuracy;
        BeginStage("sft", "training");
        // A run without warm-up starts its stage on the initial weights at once.
        _phase = config.HasWarmUp && config.Sft.Steps == 0 ? AfterWarmUp(config) : Phase.Train;
    }

    async Task TrainChunkAsync()
    {
        var config = Config;
        var step = Record.Status.Step;
        var total = config.Sft.Steps;
        var n = Math.Min(_stepsPerCall, total - step);
        n = Math.Min(n, StepsToBoundary(step, config.Eval.Every));
        n = Math.Min(n, StepsToBoundary(step, config.Checkpoint.Every));

        SetStatus(s => s with { Phase = "training" });
        var clock = Stopwatch.StartNew();
        var metrics = await Learner.TrainSteps(n);
        Record.TrainSeconds += clock.Elapsed.TotalSeconds;
        Record.TrainTokens += metrics.Sum(m => m.Tokens);
        var last = metrics[^1];
        SetStatus(s => s with
        {
            Step = last.Step,
            LastLoss = last.Loss,
            LearningRate = last.LearningRate,
            TokensPerSecond = Record.TrainSeconds > 0 ? Record.TrainTokens / Record.TrainSeconds : null,
        });
        step = last.Step;

        if (step >= total)
        {
            if (config.HasWarmUp)
            {
                // accuracy_before of a multi-stage run is the warm-up's result: what the later stages are measured
                // against.
                var warm = await EvaluateAsync();
                SetStatus(s => s with { AccuracyBefore = warm.Accuracy });
                EndStage(ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, double>
                {
                    ["loss"] = last.Loss,
                    ["eval/accuracy"] = warm.Accuracy,
                }));
                _phase = AfterWarmUp(config);
            }
            else
            {
                _phase = Phase.Finish;
            }
            return;
        }
        if (IsBoundary(step, config.Eval.Every)) await EvaluateAsync();
        if (IsBoundary(step, config.Checkpoint.Every)) await CheckpointAsync();
        SetStatus(s => s with { Phase = "training" });
    }

    /// <summary>The stage that follows the SFT warm-up.</summary>
    static Phase AfterWarmUp(ExperimentConfig config) => config.Algorithm switch
    {
        ExperimentConfig.GrpoAlgorithm => Phase.GrpoStart,
        ExperimentConfig.PpoAlgorithm => Phase.RewardModelStart,
        ExperimentConfig.DpoAlgorithm => Phase.DpoStart,
        ExperimentConfig.RlaifAlgorithm => config.TrainsRewardModel ? Phase.RewardModelStart : Phase.RlaifStart,
        _ => Phase.Finish,
    };

    async Task FinishAsync()
    {
        var after = await EvaluateAsync();
        if (!Config.HasWarmUp)
            EndStage(ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, double>
            {
                ["loss"] = Record.Status.LastLoss ?? double.NaN,
                ["eval/accuracy"] = after.Accuracy,
            }));
        var checkpoint = await CheckpointAsync();
        var status = Record.Status;
        Record.FinishedAt = DateTimeOffset.UtcNow;
        Record.Result = new ExperimentResult
        {
            ExperimentId = ExperimentId,
            Algorithm = Config.Algorithm,
            Steps = status.Step,
            WallSeconds = (Record.FinishedAt.Value - Record.StartedAt!.Value).TotalSeconds,
            TrainTokens = Record.TrainTokens,
            TrainTokensPerSecond = Record.TrainSeconds > 0 ? Record.TrainTokens / Record.TrainSeconds : 0,
            FinalLoss = status.LastLoss,
            AccuracyBefore = status.AccuracyBefore ?? double.NaN,
            AccuracyAfter = after.Accuracy,
            CheckpointPath = checkpoint.Path,
            PolicyVersion = status.PolicyVersion,
            Evals = [.. Record.Evals],
            AccuracyAtStart = Record.AccuracyAtStart,
            Grpo = status.Grpo,
            Stages = [.. Record.Stages],
            Rounds = [.. Record.Rounds],
            Retention = status.Retention,
        };
        SetStatus(s => s with { State = ExperimentState.Completed, Phase = "done", AccuracyAfter = after.Accuracy });
        StopLoop();
        await ReleaseWorkersAsync();
        await UnregisterKeepAliveAsync();
        LogCompleted(ExperimentId, status.Step, Record.Result.WallSeconds, Record.Result.AccuracyBefore, after.Accuracy, checkpoint.Path);
    }

    /// <summary>Publishes the current weights (unless this step's are already published) and evaluates them.</summary>
    async Task<EvalSummary> EvaluateAsync()
    {
        SetStatus(s => s with { Phase = "evaluating" });
        var version = await PublishAsync();
        // Idempotent: rebuilds the sampler only if its activation was collected since the last evaluation.
        await Sampler.Initialize(Record.SamplerInit!);
        var eval = await Sampler.Evaluate(version);
        Record.Evals.Add(eval);
        SetStatus(s => s with { LatestEval = eval, Evals = [.. Record.Evals] });
        if (Config.Eval.Watch.Length > 0) await EvaluateWatchedAsync(version);
        LogEvaluated(ExperimentId, eval.Step, eval.PolicyVersion, eval.Accuracy, eval.Correct, eval.Examples);
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
            double before = history[0].Accuracy;
            retention.Add(new RetentionSummary
            {
                Name = watch.Name,
                Before = before,
                Latest = eval.Accuracy,
                Retention = before > 0 ? eval.Accuracy / before : null,
                Evals = [.. history],
            });
            LogWatched(ExperimentId, watch.Name, eval.Step, eval.Accuracy, before);
        }
        SetStatus(s => s with { Retention = retention.ToImmutable() });
    }

    async Task<long> PublishAsync()
    {
        var step = Record.Status.Step;
        if (Record.PublishedStep == step) return Record.Status.PolicyVersion;
        var info = await Learner.PublishPolicy();
        Record.PublishedStep = info.Step;
        SetStatus(s => s with { PolicyVersion = info.Version });
        return info.Version;
    }

    async Task<CheckpointResult> CheckpointAsync()
    {
        SetStatus(s => s with { Phase = "checkpointing" });
        var config = Config;
        // The checkpoint's weights are a published version, so its provenance can name the version exactly.
        var version = await PublishAsync();
        var step = Record.Status.Step;
        var provenance = CheckpointProvenance.Create(ExperimentId, config, Record.Learner?.DatasetSha256 ?? "", version, step);
        var result = await Learner.SaveCheckpoint(new CheckpointRequest
        {
            Directory = OutputDirectory.Checkpoint(config.OutputDir, step),
            Provenance = provenance,
        });
        SetStatus(s => s with { CheckpointPath = result.Path });
        try
        {
            OutputDirectory.Prune(config.OutputDir, config.Checkpoint.Keep);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // An old checkpoint left behind costs disk, not correctness.
            LogPruneFailed(ExperimentId, e.Message);
        }
        return result;
    }

    /// <summary>
    /// Checkpoints the last completed step when a stop lands mid-run, so a stopped run loses no training. Skipped
    /// before the first step (nothing trained; the learner may not even hold a model yet) and when that step's
    /// checkpoint is already written (a checkpoint.every boundary). Returns "" or, when the checkpoint failed, the
    /// reason to append to the stop's message: the stop itself must still happen.
    /// </summary>
    async Task<string> CheckpointOnStopAsync()
    {
        var status = Record.Status;
        // By folder name: the learner reports the path made absolute, and every checkpoint of this run is in one
        // output_dir.
        var folder = Path.GetFileName(OutputDirectory.Checkpoint(Config.OutputDir, status.Step));
        if (status.Step <= 0 || Path.GetFileName(status.CheckpointPath) == folder) return "";
        try
        {
            await CheckpointAsync();
            return "";
        }
        catch (Exception e)
        {
            LogStopCheckpointFailed(e, ExperimentId, status.Step);
            return $"; the checkpoint of step {status.Step} failed: {e.Message}";
        }
    }

    static string Describe(ExperimentStatus status) => status.State switch
    {
        ExperimentState.Pending => "pending (never started)",
        _ => $"{status.State.ToString().ToLowerInvariant()} (step {status.Step}/{status.TotalSteps})",
    };

    async Task FailAsync(Exception error)
    {
        LogFailed(error, ExperimentId, Record.Status.Step);
        Record.FinishedAt = DateTimeOffset.UtcNow;
        SetStatus(s => s with { State = ExperimentState.Failed, Error = error.Message });
        StopLoop();
        await ReleaseWorkersAsync();
        await UnregisterKeepAliveAsync();
        try { await state.WriteStateAsync(); }
        catch (Exception e) { LogReleaseFailed(e, ExperimentId); }
    }

    /// <summary>(Re)starts the loop's timer at <paramref name="period"/>, first tick at once: a resume must not wait
    /// out whatever is left of a paused tick's delay.</summary>
    void StartLoop(TimeSpan period)
    {
        _timer?.Dispose();
        _timer = this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(TimeSpan.Zero, period)
        {
            Interleave = false,
            KeepAlive = true,
        });
    }

    void StopLoop()
    {
        _timer?.Dispose();
        _timer = null;
    }

    /// <summary>Frees the learner's, samplers', reference's and reward's resources; a failure here must not hide the run's outcome.</summary>
    async Task ReleaseWorkersAsync()
    {
        try
        {
            var config = Record.Config;
            var samplers = Enumerable.Range(0, config is null ? 1 : SamplerCount(config)).Select(i => SamplerAt(i).Release());
            // Releasing a role that never activated just activates and frees an empty grain: cheap, and simpler than
            // tracking which roles this run used.
            Task[] roles = config?.HasWarmUp == true ? [Reward.Release(), Reference.Release(), Critic.Release(), Judge.Release()] : [];
            await Task.WhenAll([Learner.Release(), .. samplers, .. roles]);
        }
        catch (Exception e)
        {
            LogReleaseFailed(e, ExperimentId);
        }
    }

    void SetStatus(Func<ExperimentStatus, ExperimentStatus> change) => Record.Status = change(Record.Status);

    static int StepsToBoundary(int step, int every) => every > 0 ? every - step % every : int.MaxValue;

    static bool IsBoundary(int step, int every) => every > 0 && step % every == 0;

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: {Algorithm} run of {Steps} steps started")]
    private partial void LogStarted(string experimentId, string algorithm, int steps);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: step {Step}, policy version {Version}: held-out accuracy {Accuracy:P1} ({Correct}/{Examples})")]
    private partial void LogEvaluated(string experimentId, int step, long version, double accuracy, int correct, int examples);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: watched task {Task} at step {Step}: accuracy {Accuracy:P1} (before training {Before:P1})")]
    private partial void LogWatched(string experimentId, string task, int step, double accuracy, double before);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: completed {Steps} steps in {Seconds:F1} s; accuracy {Before:P1} → {After:P1}; checkpoint {Checkpoint}")]
    private partial void LogCompleted(string experimentId, int steps, double seconds, double before, double after, string checkpoint);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId} stopped at step {Step}: {Reason}")]
    private partial void LogStopped(string experimentId, int step, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId} paused at step {Step}")]
    private partial void LogPaused(string experimentId, int step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId} resumed at step {Step}")]
    private partial void LogResumed(string experimentId, int step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: the checkpoint of step {Step} on stop failed; stopping without it")]
    private partial void LogStopCheckpointFailed(Exception error, string experimentId, int step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: an old checkpoint could not be deleted (checkpoint.keep): {Reason}")]
    private partial void LogPruneFailed(string experimentId, string reason);

    [LoggerMessage(Level = LogLevel.Error, Message = "Experiment {ExperimentId} failed at step {Step}")]
    private partial void LogFailed(Exception error, string experimentId, int step);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: could not release its learner / sampler or save its state")]
    private partial void LogReleaseFailed(Exception error, string experimentId);
}

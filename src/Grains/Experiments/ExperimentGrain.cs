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
using RlhfActors.Grains.Experiments.Stages;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Metrics;

using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// The lifecycle of one experiment: start, pause, resume, stop, the loop's timer and the keep-alive reminder, the
/// persisted record, and recovery. The work itself is a plan of stage objects (<see cref="ExperimentPlan"/>: SFT,
/// then reward model, GRPO, PPO, DPO or RLAIF rounds), each owning its fields; after the last stage the run is
/// finished (final evaluation, checkpoint with provenance, Completed).
/// <para>
/// The loop runs as a grain timer, one unit of work (a stage's start, a chunk of steps, one online update, one
/// round) per tick. A tick is a turn like a grain call (Interleave = false), so state changes stay single-threaded
/// and <see cref="Start"/> waits for at most one unit; <see cref="GetStatus"/> and <see cref="GetResult"/> are
/// [AlwaysInterleave] (declared on the interface) and answer while a tick awaits the learner, which is safe because
/// they only read fields that a tick replaces whole. KeepAlive makes every tick count as activity, so the controller
/// is not collected mid-run. Between stages the run is checkpointed: a stage boundary is a point to resume from.
/// </para>
/// </summary>
[ControlPlanePlacement]
public sealed partial class ExperimentGrain(
    [PersistentState("experiment", GrainStorage.Experiments)] IPersistentState<ExperimentRecord> state,
    IOptions<ExperimentDriverOptions> options,
    ILogger<ExperimentGrain> logger) : Grain, IExperimentGrain
{
    // Running, the loop ticks as fast as the work allows; paused, it ticks only so that KeepAlive keeps the
    // controller (and with it the paused run) from being collected as idle.
    static readonly TimeSpan TickPeriod = TimeSpan.FromMilliseconds(1);
    static readonly TimeSpan PausedTickPeriod = TimeSpan.FromSeconds(10);

    IGrainTimer? _timer;
    RunContext? _run;
    IReadOnlyList<ExperimentStage>? _plan;
    // Set when a worker (or this controller's previous activation) was lost: the next tick rebuilds from the newest
    // checkpoint instead of stepping the plan.
    bool _recovering;
    // The record could not be written (Redis away); every tick tries again.
    bool _unsaved;

    ExperimentRecord Record => state.State;
    ExperimentConfig Config => Record.Config ?? throw new InvalidOperationException("experiment has no config");
    string ExperimentId => this.GetPrimaryKeyString();
    RunContext Run => _run ??= new RunContext(GrainFactory, ExperimentId, () => state.State, Cursor,
        () => Record.StageStarted ? CurrentStage : null, options.Value.StepsPerCall, logger);
    ILearnerGrain Learner => Run.Learner;

    /// <summary>The plan of the recorded config (built once per activation and config).</summary>
    IReadOnlyList<ExperimentStage> Plan => _plan ??= ExperimentPlan.For(Config, Run);

    ExperimentStage? CurrentStage => Record.Config is not null && Record.StageIndex < Plan.Count ? Plan[Record.StageIndex] : null;

    /// <summary>The controller's cursor now, for a checkpoint: the running stage's live state, not the last tick's.</summary>
    ControllerCursor Cursor() => RecordedCursor() with
    {
        StageState = Record.StageStarted && CurrentStage is { } stage ? stage.SaveState() : "",
    };

    /// <summary>The cursor as the record holds it (the stage state of the last tick, or of the failed one).</summary>
    ControllerCursor RecordedCursor() => new()
    {
        StageIndex = Record.StageIndex,
        StageStarted = Record.StageStarted,
        StageState = Record.StageState,
        StageStartStep = Record.StageStartStep,
        Stages = [.. Record.Stages],
        MetricsBytes = Record.MetricsBytes,
        TraceFile = Record.TraceFile,
        TraceBytes = Record.TraceBytes,
    };

    public override async Task OnActivateAsync(CancellationToken cancellationToken)
    {
        // A persisted run that is still "running" (or paused) lost its loop with the old activation (its silo died or
        // shut down). A run that can resume recovers from its newest checkpoint: at once when running, at Resume when
        // paused. The others are reported interrupted.
        if (Record.Status.State is ExperimentState.Running or ExperimentState.Paused && Record.Config is not null && CannotResume() is null)
        {
            _recovering = true;
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
                Error = $"the run was interrupted (its grain was re-activated, e.g. after a silo restart); {CannotResume()}",
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
        // The client's complete check, for configs built in code too; then what the run will read, on this silo.
        ConfigChecks.ThrowIfInvalid(config);
        if (config.Name != ExperimentId)
            throw new ArgumentException($"config name '{config.Name}' does not match experiment '{ExperimentId}'", nameof(config));
        if (Record.Status.State is ExperimentState.Running)
            throw new InvalidOperationException($"experiment '{ExperimentId}' is already running (step {Record.Status.Step}/{Record.Status.TotalSteps})");
        if (Record.Status.State is ExperimentState.Paused)
            throw new InvalidOperationException($"experiment '{ExperimentId}' is paused at step {Record.Status.Step}/{Record.Status.TotalSteps}: resume or stop it first");
        if (fromCheckpoint)
        {
            // The plan of the config being started (stages are cheap to build: their constructors keep the context).
            if (ExperimentPlan.CannotResume(ExperimentPlan.For(config, Run), config) is { } why)
                throw new ArgumentException($"this {config.Algorithm.Yaml()} run cannot continue from its checkpoints: {why}; start it afresh in another output_dir");
            var newest = OutputDirectory.Checkpoints(config.OutputDir) is [var first, ..] ? first.Path
                : throw new ArgumentException($"output_dir '{config.OutputDir}' holds no checkpoint to resume from");
            ResumeCompatibility.ThrowIfDifferent(newest, config);
        }
        else if (OutputDirectory.EarlierCheckpoint(config.OutputDir) is { } earlier)
            throw new InvalidOperationException(
                $"output_dir '{config.OutputDir}' already holds {earlier} from an earlier run; remove it, choose another output_dir, " +
                "or continue it with --resume");
        // Off the grain's scheduler: reading a large dataset must not stall this silo's other grains.
        if (await Task.Run(() => InputChecks.Errors(config, onSilo: true)) is { Count: > 0 } inputErrors)
            throw new ArgumentException(string.Join("; ", inputErrors.Select(e => e.Message)));
        if ((config.IsRlaif || config.IsOnlineDpo) && await GrainFactory.GetGrain<IJudgeGrain>(ExperimentId).CheckEnvironment(config.Judge) is { } missing)
            throw new ArgumentException(missing);
        // Before any state is written: an unwritable folder or one another experiment holds is refused at start.
        OutputDirectoryClaim.Claim(config.OutputDir, ExperimentId);

        state.State = new ExperimentRecord
        {
            Config = config,
            StartedAt = DateTimeOffset.UtcNow,
            Status = new ExperimentStatus
            {
                ExperimentId = ExperimentId,
                Algorithm = config.Algorithm.Yaml(),
                State = ExperimentState.Running,
                Phase = fromCheckpoint ? "recovering: resuming from output_dir" : "initializing",
                TotalSteps = config.TotalSteps,
            },
        };
        await state.WriteStateAsync();
        _run = null;
        // A new run starts its history afresh; one resumed from output_dir cuts it back to its checkpoint (RecoverAsync).
        if (!fromCheckpoint)
        {
            Run.Metrics.Restore();
            Run.Traces.Restore();
        }
        // After the record is written: a listed run always has a record to show.
        await GrainFactory.GetGrain<IExperimentDirectoryGrain>(GrainKeys.ExperimentDirectory).Register(ExperimentId);
        _plan = null;
        _recovering = fromCheckpoint;
        _recoveringSince = null;
        StartLoop(TickPeriod);
        await RegisterKeepAliveAsync();
        LogStarted(ExperimentId, config.Algorithm.Yaml(), config.TotalSteps);
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

    public Task<MetricsChunk> ReadMetrics(long offset, int tailLines)
    {
        // Before the read: a reader told "finished" has then seen every line.
        var finished = Record.Status.IsFinished;
        if (Record.Config is null) return Task.FromResult(new MetricsChunk { Finished = finished });
        var (text, next) = MetricsFile.ReadText(MetricsFile.PathIn(Config.OutputDir), offset, MetricsChunk.MaxBytes, tailLines);
        return Task.FromResult(new MetricsChunk { Lines = text, Next = next, Finished = finished });
    }

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
        if (status.State is ExperimentState.Failed && Record.Config is not null && CannotResume() is null)
        {
            // A failed or interrupted run continues from its newest checkpoint (or from the start without one).
            Record.FinishedAt = null;
            _recovering = true;
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
                                                (Record.Config is not null && CannotResume() is null ? " (or a failed one, from its newest checkpoint)" : ""));
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
        // Paused too: the timer still ticks (slowly, see PausedTickPeriod) but no work runs until Resume; only a
        // record that could not be written yet is written again.
        if (Record.Status.State is ExperimentState.Running)
        {
            try
            {
                if (_recovering) await RecoverAsync();
                else if (CurrentStage is { } stage) await StepPlanAsync(stage);
                else await FinishAsync();
                // A stage paused the run (an outage): the loop slows down until Resume.
                if (Record.Status.State is ExperimentState.Paused) StartLoop(PausedTickPeriod);
            }
            catch (Exception e)
            {
                // A lost worker is recovered from the newest checkpoint; any other failure ends the run.
                var steppedPlan = !_recovering;
                if (CannotResume() is null && await LostWorkerAsync(e) && BeginRecovery(FirstLine(e.Message)))
                {
                    // The stage's state as this failed tick left it, matching the status it left: when the learner
                    // still holds that step, recovery continues from exactly there.
                    if (steppedPlan && Record.StageStarted && CurrentStage is { } stage) Record.StageState = stage.SaveState();
                }
                else await FailAsync(e);
            }
            // The tick's lines; a write that fails (disk full) keeps them for the next tick and never fails the run.
            if (Run.Metrics.TryFlush(all: Record.Status.IsFinished) is { } metricsError) logger.MetricsUnwritten(ExperimentId, metricsError);
        }
        else if (!_unsaved) return;

        // Not with the tick's token: finishing disposes the timer, which cancels it, and the final state must still
        // be written. A finished run's loop ends once its record is written; until then it retries every few seconds.
        var persisted = await PersistAsync();
        if (!Record.Status.IsFinished) return;
        if (persisted) StopLoop();
        else StartLoop(RecoveryTickPeriod, firstTickIn: RecoveryTickPeriod);
    }

    /// <summary>
    /// Writes the record. While Redis is away (restarting, unreachable) a running run goes on in memory: the write
    /// failure is logged once and every tick tries again, so nothing is lost once Redis is back (with its data).
    /// </summary>
    async Task<bool> PersistAsync()
    {
        try
        {
            await SoleWriter.WriteAsync(state);
            if (_unsaved) LogPersisted(ExperimentId, Record.Status.Step);
            _unsaved = false;
            return true;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            if (!_unsaved) LogPersistFailed(ExperimentId, Record.Status.Step, FirstLine(e.Message));
            _unsaved = true;
            return false;
        }
    }

    /// <summary>Starts <paramref name="stage"/> or steps it once; a stage that is done hands over to the next one
    /// at a checkpoint (a stage boundary is a point to resume from).</summary>
    async Task StepPlanAsync(ExperimentStage stage)
    {
        if (!Record.StageStarted)
        {
            await stage.StartAsync();
            Record.StageStarted = true;
        }
        else if (await stage.StepAsync())
        {
            Record.StageIndex++;
            Record.StageStarted = false;
            Record.StageState = "";
            if (CurrentStage is not null) await Run.CheckpointAsync();
            return;
        }
        Record.StageState = stage.SaveState();
    }

    static string FirstLine(string message)
    {
        var end = message.IndexOfAny(['\r', '\n']);
        return end > 0 ? message[..end] : message;
    }

    /// <summary>After the last stage: the final evaluation (the last stage's own, when it took one at this step) and
    /// checkpoint, the result, Completed.</summary>
    async Task FinishAsync()
    {
        var after = await Run.EvaluateAsync();
        var checkpoint = await Run.CheckpointAsync();
        await WriteChartsAsync();
        var status = Record.Status;
        Record.FinishedAt = DateTimeOffset.UtcNow;
        Record.Result = new ExperimentResult
        {
            ExperimentId = ExperimentId,
            Algorithm = Config.Algorithm.Yaml(),
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
        await ReleaseWorkersAsync();
        await UnregisterKeepAliveAsync();
        LogCompleted(ExperimentId, status.Step, Record.Result.WallSeconds, Record.Result.AccuracyBefore, after.Accuracy, checkpoint.Path);
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
            await Run.CheckpointAsync();
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
        // The reason is the message; its stack trace is for whoever debugs this code, not for the user who set a
        // learning rate too high, so it goes to the debug level.
        LogFailed(ExperimentId, Record.Status.Step, error.Message);
        LogFailureDetail(error, ExperimentId);
        Record.FinishedAt = DateTimeOffset.UtcNow;
        SetStatus(s => s with { State = ExperimentState.Failed, Error = error.Message });
        await ReleaseWorkersAsync();
        await UnregisterKeepAliveAsync();
    }

    /// <summary>(Re)starts the loop's timer at <paramref name="period"/>, first tick at once unless told otherwise: a
    /// resume must not wait out whatever is left of a paused tick's delay.</summary>
    void StartLoop(TimeSpan period, TimeSpan? firstTickIn = null)
    {
        _timer?.Dispose();
        _timer = this.RegisterGrainTimer(TickAsync, new GrainTimerCreationOptions(firstTickIn ?? TimeSpan.Zero, period)
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

    void SetStatus(Func<ExperimentStatus, ExperimentStatus> change) => Record.Status = change(Record.Status);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: {Algorithm} run of {Steps} steps started")]
    private partial void LogStarted(string experimentId, string algorithm, int steps);

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

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: its record could not be written at step {Step} (the run goes on; every tick tries again): {Reason}")]
    private partial void LogPersistFailed(string experimentId, int step, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: its record is written again (step {Step})")]
    private partial void LogPersisted(string experimentId, int step);

    [LoggerMessage(Level = LogLevel.Error, Message = "Experiment {ExperimentId} failed at step {Step}: {Reason}")]
    private partial void LogFailed(string experimentId, int step, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Experiment {ExperimentId}: the failure's detail")]
    private partial void LogFailureDetail(Exception error, string experimentId);
}

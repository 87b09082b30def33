using Microsoft.Extensions.Logging;
using Orleans.Runtime;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Grains.Experiments.Stages;
using RlhfActors.Training.Checkpoints;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// Runs that survive a lost worker. When a tick fails because a worker's silo died (the call breaks when its
/// connection closes, or at the membership verdict) or the learner came back without its model, and when the
/// controller itself is re-activated on another silo while its record says running, the next tick recovers: the
/// learner is restored from the newest checkpoint of output_dir that verifies, the controller's cursor from the
/// same checkpoint (stage, stage state), and the run continues at that step. A checkpoint holds everything the next
/// step depends on, so the steps after it are recomputed exactly: the finished run has the asked-for steps, and a
/// sync run the weights of an uninterrupted one. When only the controller was lost, the learner still holds the
/// step the record holds and nothing is redone. A keep-alive reminder (durable in Redis) re-activates a controller
/// whose silo died even if nobody asks for its status; each silo's <c>ExperimentWatchdog</c> does it sooner, as soon
/// as a death is declared. Stages that cannot resume yet (<see cref="ExperimentStage.CannotResume"/>) end such a run
/// "interrupted".
/// </summary>
public sealed partial class ExperimentGrain : IRemindable
{
    const string KeepAliveReminder = "keep-alive";

    /// <summary>Orleans' minimum reminder period: the latest a controller whose silo died comes back by itself.</summary>
    static readonly TimeSpan ReminderPeriod = TimeSpan.FromMinutes(1);

    /// <summary>Between recovery attempts: until membership declares a silo dead (ClusterMembershipSettings; longer
    /// on a loaded machine), calls routed to it can fail at once, and the attempts must not spin.</summary>
    static readonly TimeSpan RecoveryTickPeriod = TimeSpan.FromSeconds(2);

    /// <summary>How long recovery may keep failing before the run is given up as failed (it can still be resumed
    /// with <c>rlhf resume</c>).</summary>
    static readonly TimeSpan RecoveryDeadline = TimeSpan.FromMinutes(10);

    DateTimeOffset? _recoveringSince;

    /// <summary>Null when every stage of the recorded run can continue from a checkpoint; otherwise why not.</summary>
    string? CannotResume() => Record.Config is { } config ? ExperimentPlan.CannotResume(Plan, config) : "the run has no config";

    public Task ReceiveReminder(string reminderName, TickStatus status) =>
        // The activation this call caused has already arranged recovery (OnActivateAsync); a finished run needs the
        // reminder no more.
        Record.Status.IsFinished || Record.Config is null ? UnregisterKeepAliveAsync() : Task.CompletedTask;

    async Task RegisterKeepAliveAsync()
    {
        try
        {
            await this.RegisterOrUpdateReminder(KeepAliveReminder, ReminderPeriod, ReminderPeriod);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A silo without a reminder service (or Redis briefly away): the run still runs; only the automatic
            // re-activation of a lost controller waits for the watchdog or a status call.
            LogReminderFailed(e, ExperimentId);
        }
    }

    async Task UnregisterKeepAliveAsync()
    {
        try
        {
            if (await this.GetReminder(KeepAliveReminder) is { } reminder) await this.UnregisterReminder(reminder);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogReminderFailed(e, ExperimentId);
        }
    }

    /// <summary>Whether a failed tick lost a worker (rather than failed a step): Orleans reports a dead silo's broken
    /// calls as these exceptions, and a learner re-activated elsewhere holds no model (asked only once the learner
    /// was built: while building it, "no model" is the build's own failure).</summary>
    async Task<bool> LostWorkerAsync(Exception error)
    {
        if (error is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException) return true;
        // Building the learner failed (a missing model folder, a bad data file): no worker was lost, the run is wrong.
        if (_recovering || Record.StageIndex == 0 && !Record.StageStarted) return false;
        try
        {
            return await Learner.GetStepsDone() < 0;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return true;
        }
    }

    /// <summary>Starts (or goes on) recovering after <paramref name="reason"/>; false when recovery has already
    /// failed for <see cref="RecoveryDeadline"/> and the run should fail instead.</summary>
    bool BeginRecovery(string reason)
    {
        var now = DateTimeOffset.UtcNow;
        _recoveringSince ??= now;
        if (now - _recoveringSince > RecoveryDeadline) return false;
        if (!_recovering) LogRecovering(ExperimentId, Record.Status.Step, reason);
        _recovering = true;
        SetStatus(s => s with { Phase = $"recovering: {reason}" });
        StartLoop(RecoveryTickPeriod);
        return true;
    }

    /// <summary>Restores the learner and the controller's cursor, from the learner itself when it still holds the
    /// recorded step, else from the newest checkpoint that verifies (from the start when none does), and continues
    /// the plan there.</summary>
    async Task RecoverAsync()
    {
        var config = Config;
        // Only the controller was lost (its silo died or shut down; the learner lives on elsewhere, at the very step
        // the record holds): its record is the cursor, nothing to redo. Otherwise the newest checkpoint.
        var kept = await LearnerAtRecordedStepAsync() is { } learner && await StageWorkersAtRecordedStateAsync() ? learner : null;
        var (info, from, cursor) = kept is not null ? (kept, null, RecordedCursor()) : await RestoreLearnerAsync(config);
        var step = info?.StepsDone ?? 0;
        if (info is not null)
        {
            Record.Learner = info;
            Record.SamplerInit = new() { Config = config, ModelConfigJson = info.ModelConfigJson };
        }
        (Record.StageIndex, Record.StageStarted, Record.StageState, Record.StageStartStep) =
            (cursor.StageIndex, cursor.StageStarted, cursor.StageState, cursor.StageStartStep);
        Record.Stages = [.. cursor.Stages];
        // The history is cut back to the cursor's step: the steps after it are recomputed and logged again.
        Record.MetricsBytes = cursor.MetricsBytes;
        Run.Metrics.Restore();
        (Record.TraceFile, Record.TraceBytes) = (cursor.TraceFile, cursor.TraceBytes);
        Run.Traces.Restore();
        // The registry may have lost the weights with its silo: the next evaluation publishes afresh.
        Record.PublishedStep = -1;
        // Steps after the checkpoint are recomputed, so their evaluations are taken again, not kept twice (without a
        // checkpoint the run starts over, its evaluation before training included).
        Record.Evals.RemoveAll(e => info is null || e.Step > step);
        foreach (var history in Record.Watched.Values) history.RemoveAll(e => info is null || e.Step > step);
        Record.Rounds.Clear();
        SetStatus(s => s with
        {
            Step = step,
            Phase = "training",
            Resumes = s.Resumes + 1,
            ResumedFromStep = step,
            Evals = [.. Record.Evals],
            LatestEval = Record.Evals.Count > 0 ? Record.Evals[^1] : null,
            Stages = [.. Record.Stages],
            CheckpointPath = kept is not null ? s.CheckpointPath : from,
        });
        // A fresh plan: the stage objects of the old activation (or of before the loss) hold state of later steps.
        _plan = null;
        if (info is not null)
        {
            // Idempotent: rebuilds the evaluation sampler only if it was lost too.
            await Run.Sampler.Initialize(Record.SamplerInit!);
            if (CurrentStage is { } stage && Record.StageStarted) await stage.RestoreAsync(Record.StageState);
        }
        _recovering = false;
        _recoveringSince = null;
        StartLoop(TickPeriod);
        LogResumedFromCheckpoint(ExperimentId, step, kept is not null ? "the learner's own model (it was not lost)" : from ?? "the start (no checkpoint)",
            Record.Status.Resumes);
    }

    /// <summary>The learner's info when it still holds its model at the step the record holds; null otherwise (lost,
    /// unreachable, or a chunk further than the record: then the newest checkpoint is the state to trust).</summary>
    async Task<LearnerInfo?> LearnerAtRecordedStepAsync()
    {
        if (Record.Learner is not { } info) return null;
        try
        {
            var steps = await Learner.GetStepsDone();
            return steps >= 0 && steps == Record.Status.Step ? info with { StepsDone = steps } : null;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return null;
        }
    }

    /// <summary>Whether the running stage's other workers are at the record's state too (the stage answers from the
    /// record's stage state, not from its own fields, which may be ahead of it).</summary>
    async Task<bool> StageWorkersAtRecordedStateAsync()
    {
        if (!Record.StageStarted || CurrentStage is not { } stage) return true;
        try
        {
            return await stage.WorkersAtRecordedStateAsync(Record.StageState);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            return false;
        }
    }

    /// <summary>The learner restored from the newest checkpoint of output_dir that verifies and has a cursor, with
    /// the folder it came from and that cursor; (null, null, the start) when none does (the run starts over: its
    /// first stage builds the learner afresh).</summary>
    async Task<(LearnerInfo? Info, string? From, ControllerCursor Cursor)> RestoreLearnerAsync(ExperimentConfig config)
    {
        const string unknownCursor = "written at shutdown in a later stage, at a step the record does not stand at (its cursor is unknown)";
        foreach (var (step, path) in OutputDirectory.Checkpoints(config.OutputDir))
        {
            // Decided before the model is loaded when the folder has no cursor file at all; the verified read decides
            // otherwise.
            if (!File.Exists(Path.Combine(path, CheckpointFiles.ControllerState)) && CursorOf("", step, path, config) is null)
            {
                LogCheckpointSkipped(ExperimentId, path, unknownCursor);
                continue;
            }
            try
            {
                var info = await Learner.ResumeFrom(config, path);
                if (CursorOf(info.ControllerState, info.StepsDone, path, config) is { } cursor) return (info, path, cursor);
                LogCheckpointSkipped(ExperimentId, path, unknownCursor);
            }
            catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
            {
                // Corrupt, partial or foreign: never loaded; an older one may still do.
                LogCheckpointSkipped(ExperimentId, path, e.Message);
            }
        }
        return (null, null, new ControllerCursor());
    }

    /// <summary>The controller's cursor at a checkpoint: the one it holds; for one a shutting-down learner wrote in a
    /// stage after SFT (without a cursor), the record's when the record stands at that very step; else null.</summary>
    ControllerCursor? CursorOf(string controllerState, int step, string path, ExperimentConfig config)
    {
        if (controllerState.Length > 0 || step <= config.Sft.Steps) return ControllerCursor.Parse(controllerState, path);
        return Record.StageStarted && Record.Status.Step == step ? RecordedCursor() : null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: lost a worker at step {Step} ({Reason}); recovering from the newest checkpoint")]
    private partial void LogRecovering(string experimentId, int step, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: resumed at step {Step} from {Checkpoint} (resume {Resumes})")]
    private partial void LogResumedFromCheckpoint(string experimentId, int step, string checkpoint, int resumes);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: checkpoint {Path} not used for the resume: {Reason}")]
    private partial void LogCheckpointSkipped(string experimentId, string path, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: the keep-alive reminder could not be changed")]
    private partial void LogReminderFailed(Exception error, string experimentId);
}

using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Learner;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;
using RlhfActors.Grains.Policy;
using RlhfActors.Grains.Specs;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Grains.Learner;

/// <summary>
/// Owns an experiment's <see cref="SftLearner"/>. Every touch of the learner runs on the silo's device worker, so
/// this grain's turns only await. The learner lives in memory only: an idle activation is kept for
/// <see cref="CollectionAgeLimitAttribute"/>'s two hours (longer than any pause between training calls), and the
/// experiment releases it explicitly when done.
/// </summary>
[CollectionAgeLimit(Hours = 2), AcceleratorPlacement]
public sealed partial class LearnerGrain(DeviceWorkers devices, DeviceAllocator allocator, ILogger<LearnerGrain> logger) : Grain, ILearnerGrain
{
    // The silo's allocator picks this activation's device once: the model is built on it and stays there.
    readonly DeviceWorker _device = devices.Get(allocator.Allocate());
    SftLearner? _learner;
    // model.init's folder while the LoRA adapters still sit on its weights unchanged (no warm-up merged into the base):
    // what an adapter checkpoint names as base_model_name_or_path, so export need not rebuild the base. Null otherwise.
    string? _adapterBase;
    ExperimentConfig? _config;
    int _totalSteps;
    long _nextVersion;
    // The newest publication and the global step it holds, so a second publish of the same weights is a no-op.
    PolicyVersionInfo? _published;
    /// <summary>What Initialize read (dataset and input hashes), for the provenance of the learner's own checkpoints.</summary>
    LearnerInfo? _inputs;
    // Under LoRA: the full-weights version the adapters are published against (null until the stage's base is out).
    long? _baseVersion;
    string _baseSha256 = "";
    // The controller's cursor of the latest checkpoint request: an SFT stage's cursor does not change with the step,
    // so a checkpoint this learner writes on its own (at shutdown) carries it too.
    string _controllerState = "";

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        LogActivated(this.GetPrimaryKeyString(), GrainContext.Address.SiloAddress!, _device.Device);
        return Task.CompletedTask;
    }

    public Task<GrainPlacement> GetPlacement() =>
        Task.FromResult(new GrainPlacement { Silo = GrainContext.Address.SiloAddress!, Device = _device.Device });

    public async Task<LearnerInfo> Initialize(ExperimentConfig config)
    {
        var info = await InitializeReplicaAsync(config);
        await FormGroupAsync(config, checkpointDirectory: null);
        return info;
    }

    /// <summary>Builds this rank's model, data and optimizer from <paramref name="config"/> (rank 0 then forms the
    /// group around it).</summary>
    async Task<LearnerInfo> InitializeReplicaAsync(ExperimentConfig config)
    {
        ConfigChecks.ThrowIfInvalid(config);
        var experimentId = ExperimentId;
        await DisposeLearnerAsync();

        string? adapterBase = null;
        var (learner, info) = await _device.RunAsync(() =>
        {
            // Resolve the model first: its errors (missing folder, bad model.config) are the cheapest to find.
            var model = ExperimentSpecs.Model(config.Model);
            // Before any weights are read: a corrupt checkpoint among the inputs is refused with both hashes; the load
            // below then need not hash model.init again.
            var inputsSha256 = InputDigests.ComputeJson(config);
            model = model with { Verified = true };
            var data = ExperimentData.Load(ExperimentSpecs.Data(config));
            var spec = new SftLearnerSpec(model, config.Model.ResolvedTokenizer, ExperimentSpecs.SftDemonstrations(config, data.Train), ExperimentSpecs.Sft(config),
                config.Seed, _device.Device, PeftSpecs.For(config, PeftSection.SftStage));
            var created = SftLearner.Create(spec);
            adapterBase = model.Path is { } init && !Training.Model.ModelFolders.IsAdapterFolder(init) ? Path.GetFullPath(init) : null;
            try
            {
                return (created, new LearnerInfo
                {
                    ModelConfigJson = created.Config.ToJson(),
                    TrainExamples = data.Train.Count,
                    EvalExamples = data.Eval.Count,
                    DatasetSha256 = ExperimentData.DatasetSha256(data),
                    InputsSha256Json = inputsSha256,
                    StepsDone = created.StepsDone,
                });
            }
            catch
            {
                created.Dispose();
                throw;
            }
        });
        _learner = learner;
        _adapterBase = adapterBase;
        _config = config;
        _inputs = info;
        _published = null;
        _baseVersion = null;
        _controllerState = "";
        _totalSteps = config.Sft.Steps;
        // Version numbers never repeat within an experiment id, even across runs: a sampler that still holds a
        // version of an earlier run must see every new one as newer.
        _nextVersion = await GrainFactory.GetGrain<IPolicyGrain>(experimentId).GetLatestVersionNumber() + 1;
        LogInitialized(experimentId, info.TrainExamples, info.EvalExamples, _device.Device);
        return info;
    }

    /// <summary>Rebuilds the learner at the state of a checkpoint: an SFT checkpoint (weights, optimizer, schedule,
    /// data cursor), or a GRPO, DPO or PPO one (the policy, the stage's optimizer and position, in that stage, its weights
    /// published as a new version). Returns the controller's cursor the checkpoint was written with.</summary>
    public async Task<LearnerInfo> ResumeFrom(ExperimentConfig config, string checkpointDirectory)
    {
        var info = await ResumeReplicaAsync(config, checkpointDirectory);
        await FormGroupAsync(config, checkpointDirectory);
        return info;
    }

    /// <summary>This rank's replica at the state of a checkpoint (rank 0 then forms the group, every rank restoring
    /// the same checkpoint).</summary>
    async Task<LearnerInfo> ResumeReplicaAsync(ExperimentConfig config, string checkpointDirectory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(checkpointDirectory);
        var info = await InitializeReplicaAsync(config);
        var learner = RequireLearner();
        string controllerState;
        try
        {
            var (checkpoint, stage, state) = await _device.RunAsync(() =>
            {
                var checkpoint = CheckpointReader.Open(checkpointDirectory);
                var stage = TrainerStage(checkpoint, checkpointDirectory);
                // Listed in the manifest, so verified with the rest; absent from checkpoints older than the cursor.
                var state = checkpoint.Manifest.Files.ContainsKey(CheckpointFiles.ControllerState)
                    ? File.ReadAllText(Path.Combine(checkpointDirectory, CheckpointFiles.ControllerState)) : "";
                if (stage == "sft") learner.LoadCheckpoint(checkpoint, checkpointDirectory);
                else if (stage is "grpo" or "dpo" or "ppo") learner.LoadLaterStagePolicy(checkpoint, checkpointDirectory, config.Sft.Steps);
                else throw new InvalidDataException($"{checkpointDirectory}: a {stage} checkpoint cannot be resumed from yet");
                return (checkpoint, stage, state);
            });
            // The adapters still sit on model.init's weights only if the checkpoint's adapter named that folder.
            if (checkpoint.Adapter?.BaseModelNameOrPath is not { } named || Path.GetFullPath(named) != _adapterBase) _adapterBase = null;
            if (stage == "grpo") await ResumeGrpoAsync(checkpoint, checkpointDirectory);
            else if (stage == "dpo") await ResumeDpoAsync(checkpoint, checkpointDirectory);
            else if (stage == "ppo") await ResumePpoAsync(checkpoint, checkpointDirectory);
            controllerState = state;
        }
        catch
        {
            // A half-restored model must not be trained on.
            await DisposeLearnerAsync();
            throw;
        }
        var step = GlobalStep(learner);
        LogResumed(this.GetPrimaryKeyString(), step, checkpointDirectory);
        return info with { StepsDone = step, ControllerState = controllerState };
    }

    /// <summary>Builds a later stage's learner on the device and restores its state from a checkpoint into it; a
    /// learner whose restore failed is disposed, never kept.</summary>
    Task<T> RestoredOnDeviceAsync<T>(Func<T> create, Action<T> restore) where T : IDisposable =>
        _device.RunAsync(() =>
        {
            var made = create();
            try
            {
                restore(made);
                return made;
            }
            catch
            {
                made.Dispose();
                throw;
            }
        });

    /// <summary>The stage a checkpoint's trainer_state.json names ("stage"); SFT checkpoints name none.</summary>
    static string TrainerStage(Training.Checkpoints.LoadedCheckpoint checkpoint, string directory)
    {
        try
        {
            using var json = System.Text.Json.JsonDocument.Parse(checkpoint.TrainerStateJson);
            foreach (var property in json.RootElement.EnumerateObject())
                if (property.Name.Equals("stage", StringComparison.OrdinalIgnoreCase)) return property.Value.GetString() ?? "sft";
            return "sft";
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new InvalidDataException($"{directory}: {CheckpointFiles.TrainerState} is not JSON: {e.Message}", e);
        }
    }

    /// <summary>The controller's cursor as a checkpoint file (none when the controller sent none).</summary>
    static IReadOnlyDictionary<string, byte[]> ControllerFiles(string state) => state.Length == 0
        ? new Dictionary<string, byte[]>()
        : new Dictionary<string, byte[]> { [CheckpointFiles.ControllerState] = System.Text.Encoding.UTF8.GetBytes(state) };

    // Step counters change only inside device jobs this grain awaits; between them reading is safe.
    public Task<int> GetStepsDone() => Task.FromResult(_learner is { } learner ? GlobalStep(learner) : -1);

    public async Task<ImmutableArray<TrainStepMetrics>> TrainSteps(int steps)
    {
        var learner = RequireLearner();
        if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be > 0");
        int before = GlobalStep(learner), target = before + steps;
        // Every attempt trains what is left of the call (a group formed again after a lost rank goes on from the steps
        // its survivors committed), adding each step's metrics as it is done.
        var metrics = new List<TrainStepMetrics>(steps);
        await InGroupAsync(() => RunSftStepsAsync(target - GlobalStep(learner), metrics),
            peer => peer.TrainRankSteps(target - GlobalStep(learner)), $"sft steps {before + 1}–{target}", resumable: _ => true);
        await CheckAgreementAsync(before, metrics[^1].Step);
        LogTrained(this.GetPrimaryKeyString(), metrics[^1].Step, metrics[^1].Loss);
        return [.. metrics];
    }

    /// <summary>This rank's part of <paramref name="steps"/> SFT steps (the whole of them alone), each step's metrics
    /// added to <paramref name="metrics"/> as soon as it is done.</summary>
    async Task<int> RunSftStepsAsync(int steps, List<TrainStepMetrics>? metrics = null)
    {
        var learner = RequireLearner();
        if (steps <= 0) return 0;
        var (total, reducer) = (_totalSteps, Reducer);
        return await _device.RunAsync(() =>
        {
            var remaining = total - learner.StepsDone;
            if (steps > remaining)
                throw new InvalidOperationException($"asked for {steps} steps but only {remaining} of sft.steps={total} remain");
            for (var i = 0; i < steps; i++)
            {
                var m = learner.Step(reducer);
                metrics?.Add(new TrainStepMetrics
                {
                    Step = m.Step, Loss = m.Loss, LearningRate = m.LearningRate,
                    GradNorm = m.GradNorm, Tokens = m.Tokens, Seconds = m.Seconds,
                });
            }
            return steps;
        });
    }

    public async Task<PolicyVersionInfo> PublishPolicy()
    {
        var learner = RequireLearner();
        if (!IsCoordinator) throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' is a rank of a learner group: rank 0 publishes for it");
        // Step counters change only inside device jobs this grain awaits, so reading them here is safe; checking
        // first skips exporting weights that are already published.
        var step = GlobalStep(learner);
        if (_published is { } published && published.Step == step)
        {
            if (await GrainFactory.GetGrain<IPolicyGrain>(this.GetPrimaryKeyString()).Holds(published.Version)) return published;
            // The registry lost the weights with its silo (a recovery asks for them): the same weights again, as a new
            // version, with their base first under LoRA.
            (_baseVersion, _published) = (null, null);
        }
        var weights = await ExportForSyncAsync(learner, step);
        var info = await PublishAsync(weights, step, _nextVersion);
        // An online stage compares its rollouts' versions with its own: it stands at this one now.
        if (_grpo is { } grpo) await _device.RunAsync(() => grpo.Republished(info.Version));
        if (_ppo is { } ppo) await _device.RunAsync(() => ppo.Republished(info.Version));
        return info;
    }

    /// <summary>What a new version must carry: the whole policy, or under LoRA the adapter alone — after publishing,
    /// once per stage, the full-weights base the adapter applies to (adapter-only weight sync).</summary>
    async Task<System.Collections.Immutable.ImmutableArray<Abstractions.Tensors.TensorPayload>> ExportForSyncAsync(SftLearner learner, int step)
    {
        var model = learner.Model;
        if (model.Lora is not null && _baseVersion is null)
        {
            var baseWeights = await _device.RunAsync(() => ModelFactory.ExportWeights(model).ToPayloads());
            var info = await PublishAsync(baseWeights, step, _nextVersion, baseVersion: -1);
            (_baseVersion, _baseSha256) = (info.Version, info.Sha256);
        }
        return await _device.RunAsync(() => SyncPayload(learner));
    }

    /// <summary>The weights a version publishes once its base is out: the adapter under LoRA, else the whole policy.
    /// Device-thread only.</summary>
    static System.Collections.Immutable.ImmutableArray<Abstractions.Tensors.TensorPayload> SyncPayload(SftLearner learner) =>
        learner.Model.Lora is null ? learner.ExportWeights().ToPayloads() : Lora.ExportAdapter(learner.Model).ToPayloads();

    /// <summary>Hands <paramref name="weights"/> to the policy registry as <paramref name="version"/>, in chunks of
    /// <c>weight_sync.chunk_bytes</c>; later publications continue after it.</summary>
    async Task<PolicyVersionInfo> PublishAsync(System.Collections.Immutable.ImmutableArray<Abstractions.Tensors.TensorPayload> weights, int step, long version,
        long? baseVersion = null)
    {
        var experimentId = this.GetPrimaryKeyString();
        // Under LoRA every publication after the stage's base is an adapter on top of it.
        var onBase = baseVersion ?? _baseVersion ?? -1;
        var info = await PolicyPublisher.PublishAsync(GrainFactory.GetGrain<IPolicyGrain>(experimentId), new PolicyVersion
        {
            ExperimentId = experimentId,
            Version = version,
            Step = step,
            Weights = weights,
            PublishedAt = DateTimeOffset.UtcNow,
            BaseVersion = onBase,
            AdapterAlpha = onBase >= 0 ? _learner!.Model.Lora?.Alpha ?? 0 : 0,
            BaseSha256 = onBase >= 0 ? _baseSha256 : "",
        }, _config!.WeightSync);
        _nextVersion = version + 1;
        _published = info;
        return info;
    }

    /// <summary>Policy updates so far over every stage: the SFT warm-up, then GRPO, DPO or PPO.</summary>
    int GlobalStep(SftLearner learner) => learner.StepsDone + (_grpo?.StepsDone ?? 0) + (_dpo?.StepsDone ?? 0) + (_ppo?.StepsDone ?? 0)
        + (_distill?.StepsDone ?? 0);

    public async Task<CheckpointResult> SaveCheckpoint(CheckpointRequest request)
    {
        RequireLearner();
        if (string.IsNullOrWhiteSpace(request.Directory))
            throw new ArgumentException("checkpoint directory is empty", nameof(request));
        _controllerState = request.ControllerState;
        var info = await WriteCheckpointAsync(request.Directory, request.Provenance, request.ControllerState);
        LogCheckpoint(this.GetPrimaryKeyString(), info.Step, info.Path);
        return new CheckpointResult { Path = info.Path, Step = info.Step, ManifestSha256 = info.ManifestSha256 };
    }

    /// <summary>The running stage's checkpoint: the policy, the stage's optimizer and position, the tokenizer, and the
    /// controller's cursor when there is one.</summary>
    Task<CheckpointInfo> WriteCheckpointAsync(string directory, IReadOnlyDictionary<string, string> provenance, string controllerState)
    {
        var learner = RequireLearner();
        var (grpo, dpo, ppo, distill, seed) = (_grpo, _dpo, _ppo, _distill, _config!.Seed);
        var extra = ControllerFiles(controllerState);
        var withTokenizer = TokenizerFiles.FilesFor(learner.Tokenizer).Concat(extra).ToDictionary();
        var adapterBase = _adapterBase;
        return _device.RunAsync(() => distill is not null
            ? distill.SaveCheckpoint(directory, GlobalStep(learner), seed, provenance, withTokenizer)
            : ppo is not null
            ? ppo.SaveCheckpoint(directory, GlobalStep(learner), seed, provenance, withTokenizer)
            : dpo is not null
                ? dpo.SaveCheckpoint(directory, GlobalStep(learner), seed, provenance, withTokenizer)
                : grpo is not null
                    ? grpo.SaveCheckpoint(directory, GlobalStep(learner), seed, provenance, withTokenizer, adapterBase)
                    : learner.SaveCheckpoint(directory, provenance, adapterBase, extraFiles: extra));
    }

    public async Task Release()
    {
        await DisbandAsync();
        await DisposeLearnerAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        // The silo is shutting down (SIGTERM, Ctrl+C): keep the steps since the last checkpoint. The run's controller
        // resumes from the newest checkpoint wherever it goes on, so this one saves it recomputing them.
        if (reason.ReasonCode == DeactivationReasonCode.ShuttingDown) await CheckpointOnShutdownAsync();
        await DisposeLearnerAsync();
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    /// <summary>
    /// Writes <c>checkpoint-&lt;its step&gt;</c> unless it exists; a failure is logged, never thrown: the shutdown must
    /// go on. An SFT stage's controller cursor does not change with the step, so the latest one goes in. A later
    /// stage's does, and this learner does not know it: its checkpoint goes without one, and the controller uses it
    /// only when its record stands at the same step (it then holds the cursor of that very step). A PPO stage writes
    /// none: its critic, on another grain, would not be saved with it.
    /// </summary>
    async Task CheckpointOnShutdownAsync()
    {
        // Rank 0 checkpoints for its group: every rank holds the same state.
        if (_learner is not { } learner || _config is not { } config || _ppo is not null || !IsCoordinator) return;
        var step = GlobalStep(learner);
        var directory = Experiments.OutputDirectory.Checkpoint(config.OutputDir, step);
        if (step <= 0 || Directory.Exists(directory)) return;
        try
        {
            var version = _published is { } published && published.Step == step ? published.Version : (long?)null;
            var provenance = CheckpointProvenance.Create(this.GetPrimaryKeyString(), config, _inputs, version, step);
            bool laterStage = _grpo is not null || _dpo is not null || _distill is not null;
            var info = await WriteCheckpointAsync(directory, provenance, laterStage ? "" : _controllerState);
            LogShutdownCheckpoint(this.GetPrimaryKeyString(), info.Step, info.Path);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogShutdownCheckpointFailed(e, this.GetPrimaryKeyString(), step);
        }
    }

    SftLearner RequireLearner() => _learner ?? throw new InvalidOperationException(
        $"learner '{this.GetPrimaryKeyString()}' holds no model: call Initialize first (or it was deactivated)");

    async Task DisposeLearnerAsync()
    {
        if (_learner is not { } learner) return;
        var (grpo, dpo, ppo, distill) = (_grpo, _dpo, _ppo, _distill);
        (_learner, _grpo, _dpo, _ppo, _distill) = (null, null, null, null, null);
        // Native memory belongs to the device thread's world; free it there.
        await _device.RunAsync(() =>
        {
            grpo?.Dispose();
            dpo?.Dispose();
            ppo?.Dispose();
            distill?.Dispose();
            learner.Dispose();
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Learner {Grain} activated on silo {Silo}, device {Device}")]
    private partial void LogActivated(string grain, SiloAddress silo, string device);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: learner ready ({Train} train / {Eval} held-out examples, device {Device})")]
    private partial void LogInitialized(string experimentId, int train, int eval, string device);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Experiment {ExperimentId}: step {Step}, loss {Loss:F4}")]
    private partial void LogTrained(string experimentId, int step, double loss);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: silo shutting down; checkpoint of step {Step} written to {Path}")]
    private partial void LogShutdownCheckpoint(string experimentId, int step, string path);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: the shutdown checkpoint of step {Step} failed")]
    private partial void LogShutdownCheckpointFailed(Exception error, string experimentId, int step);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: learner restored to step {Step} from {Path}")]
    private partial void LogResumed(string experimentId, int step, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: checkpoint of step {Step} written to {Path}")]
    private partial void LogCheckpoint(string experimentId, int step, string path);
}

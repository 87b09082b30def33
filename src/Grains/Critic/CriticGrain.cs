using RlhfActors.Abstractions.Config;
using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;
using RlhfActors.Grains.Policy;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Model;
using RlhfActors.Training.Rl.Ppo;
using RlhfActors.Training.Scoring;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Grains.Critic;

/// <summary>
/// PPO's critic: a value model with its own weights and optimizer — a scalar head on a copy of the policy version PPO
/// starts from (InstructGPT starts the critic from the reward model; starting from the policy keeps the reward model
/// a separate, frozen role here). A heavy grain: placed on an accelerator silo, its work on the silo's device worker.
/// </summary>
[CollectionAgeLimit(Hours = 2), AcceleratorPlacement]
public sealed partial class CriticGrain(DeviceWorkers devices, DeviceAllocator allocator, ILogger<CriticGrain> logger) : Grain, ICriticGrain, ICriticRankGrain
{
    readonly DeviceWorker _device = devices.Get(allocator.Allocate());
    CriticLearner? _critic;
    string? _initKey;
    int _seed;
    // The experiment's config, as the critic was built with it (its parallel section among the rest).
    ExperimentConfig? _initConfig;

    public Task<GrainPlacement> GetPlacement() => Task.FromResult(Placement);

    public async Task Initialize(CriticInit init)
    {
        ArgumentNullException.ThrowIfNull(init);
        if (_critic is not null && InitKey(init) == _initKey) return;
        await InitializeReplicaAsync(init);
        await FormGroupAsync(init, checkpointDirectory: null);
    }

    /// <summary>This rank's value model from the policy version of <paramref name="init"/> (rank 0 then forms the
    /// group, every rank building the same one).</summary>
    async Task InitializeReplicaAsync(CriticInit init)
    {
        var experimentId = ExperimentId;
        var key = InitKey(init);
        var config = init.Model.Config;
        var version = await PolicyPuller.For(GrainFactory, experimentId, config.WeightSync, logger).PullAsync(init.Version)
                      ?? throw new InvalidOperationException($"experiment '{experimentId}': policy version {init.Version} for the critic is no longer held by the policy registry");
        if (version.Info.IsAdapter)
            throw new InvalidOperationException($"experiment '{experimentId}': the critic needs full weights, version {init.Version} is an adapter");
        await DisposeCriticAsync();
        var weights = version.Weights;
        var options = PpoSpecs.Options(config);
        _critic = await _device.RunAsync(() =>
        {
            var tokenizer = TokenizerFiles.Create(config.Model.ResolvedTokenizer);
            var model = ScalarHeadModel.FromPolicyWeights(ExperimentSpecs.ModelConfigFromJson(init.Model.ModelConfigJson), weights,
                Training.Tasks.StableSeed.Derive(config.Seed, CriticSeedStream), ModelFactory.ParseComputeType(config.Model.DType.Yaml()),
                new TorchSharp.torch.Device(_device.Device));
            return new CriticLearner(model, options, tokenizer.PadId);
        });
        (_initKey, _seed, _initConfig) = (key, config.Seed, config);
        LogInitialized(this.GetPrimaryKeyString(), init.Version, GrainContext.Address.SiloAddress!, _device.Device);
    }

    static string InitKey(CriticInit init) => $"{Digests.ConfigToJson(init.Model.Config)}\n{init.Model.ModelConfigJson}\n{init.Version}";

    /// <summary>The critic's value head draws from its own seed stream, apart from the policy's.</summary>
    const int CriticSeedStream = 0xC217;

    public async Task<ImmutableArray<float[]>> Values(RolloutBatchMessage rollouts)
    {
        var critic = RequireCritic();
        var batch = rollouts.ToBatch();
        var values = await _device.RunAsync(() => critic.Values(batch));
        return [.. values];
    }

    public async Task<CriticStepResult> Train(CriticTrainRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var critic = RequireCritic();
        var batch = request.Rollouts.ToBatch();
        int stepsBefore = critic.StepsDone;
        var m = await InGroupAsync(() =>
        {
            var reducer = Reducer;
            return _device.RunAsync(() => critic.Step(batch, [.. request.Returns], [.. request.OldValues], request.LearningRate, reducer));
        }, peer => peer.TrainRank(request), $"critic step {stepsBefore + 1}");
        await CheckAgreementAsync(stepsBefore, critic.StepsDone);
        return new CriticStepResult { ValueLoss = m.ValueLoss, ClipFraction = m.ClipFraction, ExplainedVariance = m.ExplainedVariance, Seconds = m.Seconds };
    }

    public async Task<string> SaveCheckpoint(string directory, int step)
    {
        var critic = RequireCritic();
        var seed = _seed;
        var info = await _device.RunAsync(() => critic.SaveCheckpoint(directory, step, seed));
        return info.Path;
    }

    public async Task RestoreFrom(CriticInit init, string directory)
    {
        ArgumentNullException.ThrowIfNull(init);
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        await RestoreReplicaAsync(init, directory);
        await FormGroupAsync(init, directory);
    }

    async Task RestoreReplicaAsync(CriticInit init, string directory)
    {
        await DisposeCriticAsync();
        var config = init.Model.Config;
        var options = PpoSpecs.Options(config);
        _critic = await _device.RunAsync(() =>
        {
            var checkpoint = CheckpointReader.Open(directory);
            var tokenizer = TokenizerFiles.Create(config.Model.ResolvedTokenizer);
            var model = ScalarHeadModel.FromWeights(checkpoint.Config, checkpoint.Weights, ModelFactory.ParseComputeType(config.Model.DType.Yaml()),
                new TorchSharp.torch.Device(_device.Device));
            var critic = new CriticLearner(model, options, tokenizer.PadId);
            try
            {
                critic.LoadState(checkpoint, directory, config.Seed);
                return critic;
            }
            catch
            {
                critic.Dispose();
                model.Dispose();
                throw;
            }
        });
        (_initKey, _seed, _initConfig) = (InitKey(init), config.Seed, config);
        LogRestored(this.GetPrimaryKeyString(), _critic.StepsDone, directory);
    }

    // Step counters change only inside device jobs this grain awaits; between them reading is safe.
    public Task<int> GetStepsDone() => Task.FromResult(_critic?.StepsDone ?? -1);

    public async Task Release()
    {
        await DisbandAsync();
        await DisposeCriticAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await DisposeCriticAsync();
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    CriticLearner RequireCritic() => _critic ?? throw new InvalidOperationException(
        $"critic '{this.GetPrimaryKeyString()}' holds no model: call Initialize first (or it was deactivated)");

    async Task DisposeCriticAsync()
    {
        if (_critic is not { } critic) return;
        (_critic, _initKey) = (null, null);
        await _device.RunAsync(() =>
        {
            critic.Critic.Dispose();
            critic.Dispose();
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Critic {ExperimentId}: restored at critic step {Steps} from {Path}")]
    private partial void LogRestored(string experimentId, int steps, string path);

    [LoggerMessage(Level = LogLevel.Information, Message = "Critic {ExperimentId}: value model from policy version {Version} on silo {Silo}, device {Device}")]
    private partial void LogInitialized(string experimentId, long version, SiloAddress silo, string device);
}

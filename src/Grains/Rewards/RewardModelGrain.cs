using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;
using RlhfActors.Grains.Policy;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.RewardModeling;
using RlhfActors.Training.Rewards;
using RlhfActors.Training.Scoring;
using RlhfActors.Training.Tasks;
using RlhfActors.Training.Tokenization;
using RlhfActors.Training.Weights;

namespace RlhfActors.Grains.Rewards;

/// <summary>
/// Holds an experiment's reward and scores completions with it: verifiers and HTTP endpoints (plain .NET, awaited
/// without blocking a scheduler thread), and the experiment's learned reward model — a scalar head on a copy of the
/// SFT policy, trained here with the Bradley–Terry loss on labelled pairs (<see cref="StartTraining"/>,
/// <see cref="TrainRewardModel"/>) and then served as the <c>reward_model</c> term of the weighted sum. The model
/// lives on this silo's device worker, so the grain is placed like the other heavy roles.
/// </summary>
[CollectionAgeLimit(Hours = 2), AcceleratorPlacement]
public sealed partial class RewardModelGrain(DeviceWorkers devices, DeviceAllocator allocator, ILogger<RewardModelGrain> logger)
    : Grain, IRewardModelGrain, IRewardModelRankGrain
{
    readonly DeviceWorker _device = devices.Get(allocator.Allocate());
    CompositeReward? _reward;
    double _modelWeight;
    string? _key;
    RewardModelTrainer? _trainer;
    RewardModelScorer? _scorer;
    IReadOnlyList<PreferencePair> _heldOut = [];

    public Task Initialize(ExperimentConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        var key = Digests.ConfigToJson(config);
        if (_key == key) return Task.CompletedTask;
        var terms = config.IsPpo
            ? PpoSpecs.Rewards(config).Select(t => new RewardComponentSpec(t.Name, t.Weight, t.Args)).ToArray()
            : GrpoSpecs.Reward(config).Components.ToArray();
        var modelTerms = terms.Where(t => t.Name == PpoSpecs.RewardModelTerm).ToArray();
        if (modelTerms.Length > 0 && _trainer is null)
            throw new InvalidOperationException($"reward model '{this.GetPrimaryKeyString()}': the '{PpoSpecs.RewardModelTerm}' reward needs the reward-model stage to have trained it first");
        var others = terms.Where(t => t.Name != PpoSpecs.RewardModelTerm).ToArray();
        var reward = others.Length > 0 ? RewardRegistry.Create(new RewardSpec(others), config.Data.Task) : null;
        DisposeReward();
        (_reward, _modelWeight, _key) = (reward, modelTerms.Sum(t => t.Weight), key);
        LogInitialized(this.GetPrimaryKeyString(), string.Join(" + ", terms.Select(c => $"{c.Weight}·{c.Name}")));
        return Task.CompletedTask;
    }

    public async Task<RewardScores> Score(RolloutBatchMessage rollouts)
    {
        ArgumentNullException.ThrowIfNull(rollouts);
        if (_key is null) throw new InvalidOperationException(
            $"reward model '{this.GetPrimaryKeyString()}' is not initialized: call Initialize first (or it was deactivated)");
        var batch = rollouts.ToBatch();
        double[] scores;
        var components = ImmutableSortedDictionary.CreateBuilder<string, ImmutableArray<double>>(StringComparer.Ordinal);
        try
        {
            if (_reward is { } reward)
            {
                var breakdown = await reward.ScoreComponentsAsync(batch.RewardRequests(), CancellationToken.None);
                scores = breakdown.Total;
                for (int c = 0; c < breakdown.Names.Count; c++) AddComponent(components, breakdown.Names[c], breakdown.Components[c]);
            }
            else scores = new double[batch.Count];
        }
        catch (RewardUnavailableException e)
        {
            // An outage is an answer, not a failure: the controller pauses the run.
            return new RewardScores { Unavailable = e.Message };
        }
        if (_modelWeight != 0 && _scorer is { } scorer)
        {
            var learned = await _device.RunAsync(() => scorer.Score(batch.Prompts, batch.CompletionTexts));
            for (int i = 0; i < scores.Length; i++) scores[i] += _modelWeight * learned[i];
            AddComponent(components, PpoSpecs.RewardModelTerm, learned);
        }
        return new RewardScores { Scores = [.. scores], Components = components.ToImmutable() };
    }

    /// <summary>A term's scores under its name, numbered when the name is taken (two terms of one function).</summary>
    static void AddComponent(ImmutableSortedDictionary<string, ImmutableArray<double>>.Builder components, string name, IReadOnlyList<double> scores)
    {
        var key = name;
        for (int n = 2; components.ContainsKey(key); n++) key = $"{name}#{n}";
        components[key] = [.. scores];
    }

    public async Task<PreferenceEvalResult> StartTraining(RewardModelInit init)
    {
        var before = await StartAsync(init, init.Model.Config.RewardModel.Init);
        await FormGroupAsync(init, init.Model.Config.RewardModel.Init);
        return before;
    }

    public async Task RestoreTrained(RewardModelInit init, string folder)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(folder);
        if (_trainer is not null) return;
        await StartAsync(init, folder);
    }

    /// <summary>The reward model and its pairs: read from <paramref name="trainedFolder"/>, or (null) a fresh head on
    /// policy version <see cref="RewardModelInit.Version"/>.</summary>
    async Task<PreferenceEvalResult> StartAsync(RewardModelInit init, string? trainedFolder)
    {
        ArgumentNullException.ThrowIfNull(init);
        var experimentId = ExperimentId;
        var config = init.Model.Config;
        var section = config.RewardModel;
        IReadOnlyList<TensorBytes>? weights = null;
        if (trainedFolder is null)
        {
            var version = await PolicyPuller.For(GrainFactory, experimentId, config.WeightSync, logger).PullAsync(init.Version)
                          ?? throw new InvalidOperationException($"experiment '{experimentId}': policy version {init.Version} for the reward model is no longer held by the policy registry");
            if (version.Info.IsAdapter)
                throw new InvalidOperationException($"experiment '{experimentId}': the reward model needs full weights, version {init.Version} is an adapter");
            weights = version.Weights;
        }
        await DisposeTrainerAsync();
        var options = new RewardModelOptions
        {
            Steps = section.Steps,
            BatchSize = section.BatchSize,
            LearningRate = section.LearningRate,
            WarmupSteps = section.WarmupSteps,
            WeightDecay = section.WeightDecay,
            MaxGradNorm = section.MaxGradNorm,
            MaxNonfiniteSteps = config.MaxNonfiniteSteps,
            CenterRewardsCoefficient = section.CenterRewardsCoefficient,
        };
        var (trainer, heldOut, before) = await _device.RunAsync(() =>
        {
            var (train, eval) = PreferenceSpecs.MarginedPairs(config, section.Pairs, "reward_model.pairs");
            var tokenizer = TokenizerFiles.Create(config.Model.ResolvedTokenizer);
            var computeType = ModelFactory.ParseComputeType(config.Model.DType.Yaml());
            var device = new TorchSharp.torch.Device(_device.Device);
            var model = weights is null
                ? LoadTrained(trainedFolder!, tokenizer, computeType, device)
                : ScalarHeadModel.FromPolicyWeights(ExperimentSpecs.ModelConfigFromJson(init.Model.ModelConfigJson), weights,
                    StableSeed.Derive(config.Seed, RewardHeadSeedStream), computeType, device);
            try
            {
                var created = RewardModelTrainer.Create(model, tokenizer, train, options, config.Seed);
                return (created, eval, created.Evaluate(eval));
            }
            catch
            {
                model.Dispose();
                throw;
            }
        });
        (_trainer, _scorer, _heldOut, _key) = (trainer, new RewardModelScorer(trainer.Model, trainer.Tokenizer), heldOut, null);
        LogTrainingStarted(experimentId, init.Version, heldOut.Count, before.Accuracy);
        return ToResult(before);
    }

    /// <summary>A trained reward model (reward_model.init); it must read the experiment's token ids.</summary>
    static ScalarHeadModel LoadTrained(string folder, ITokenizer tokenizer, TorchSharp.torch.ScalarType computeType, TorchSharp.torch.Device device)
    {
        var model = RewardModelFolder.Read(folder, computeType, device);
        if (model.Config.VocabSize >= tokenizer.VocabSize) return model;
        int vocab = model.Config.VocabSize;
        model.Dispose();
        throw new InvalidDataException($"reward_model.init: '{folder}' has vocab_size {vocab}, fewer than the experiment's tokenizer's " +
                                       $"{tokenizer.VocabSize} ids: it was trained with another tokenizer");
    }

    /// <summary>The reward head's initialisation draws from its own seed stream, apart from the policy's.</summary>
    const int RewardHeadSeedStream = 0x2E3A;

    public async Task<ImmutableArray<Abstractions.Preference.RewardModelStepMetrics>> TrainRewardModel(int steps)
    {
        var trainer = RequireTrainer();
        if (steps <= 0) throw new ArgumentOutOfRangeException(nameof(steps), steps, "steps must be > 0");
        int before = trainer.StepsDone;
        if (_membership.Led is not { } group) return await TrainOnDeviceAsync(trainer, steps, reducer: null);
        ImmutableArray<Abstractions.Preference.RewardModelStepMetrics> metrics;
        try
        {
            metrics = await group.RunAsync(() => TrainOnDeviceAsync(trainer, steps, group.Exchange), peer => peer.TrainRewardModelRank(steps),
                $"reward model steps {before + 1}–{before + steps}");
        }
        catch (Learner.Group.LearnerGroupException)
        {
            // The stage is done again from its start, where the group forms again.
            _membership.Drop();
            await DisposeTrainerAsync();
            throw;
        }
        await group.CheckAgreementAsync(_digestEvery, before, trainer.StepsDone, DigestAsync);
        return metrics;
    }

    Task<ImmutableArray<Abstractions.Preference.RewardModelStepMetrics>> TrainOnDeviceAsync(RewardModelTrainer trainer, int steps,
        Training.Parallel.IGradientReducer? reducer) =>
        _device.RunAsync(() =>
        {
            var result = ImmutableArray.CreateBuilder<Abstractions.Preference.RewardModelStepMetrics>(steps);
            for (int i = 0; i < steps; i++)
            {
                var m = trainer.Step(reducer);
                result.Add(new Abstractions.Preference.RewardModelStepMetrics
                {
                    Step = m.Step, Loss = m.Loss, Accuracy = m.Accuracy, MeanMargin = m.MeanMargin, LearningRate = m.LearningRate, Seconds = m.Seconds,
                });
            }
            return result.MoveToImmutable();
        });

    public async Task<PreferenceEvalResult> EvaluateRewardModel()
    {
        var trainer = RequireTrainer();
        var heldOut = _heldOut;
        return ToResult(await _device.RunAsync(() => trainer.Evaluate(heldOut)));
    }

    public async Task<RewardModelExport> ExportRewardModel()
    {
        var trainer = RequireTrainer();
        return await _device.RunAsync(() => new RewardModelExport
        {
            ModelConfigJson = trainer.Model.Config.ToJson(),
            Weights = trainer.ExportWeights().ToPayloads(),
        });
    }

    public async Task<string> SaveRewardModel(string directory)
    {
        var trainer = RequireTrainer();
        // The stage's end: the other ranks' replicas are no longer needed (rank 0 alone evaluates and scores).
        await DisbandAsync();
        var full = Path.GetFullPath(directory);
        await _device.RunAsync(() => RewardModelFolder.Write(full, trainer.Model, trainer.Tokenizer));
        LogSaved(this.GetPrimaryKeyString(), full);
        return full;
    }

    static PreferenceEvalResult ToResult(PreferenceAccuracy a) =>
        new() { Pairs = a.Pairs, Correct = a.Correct, Accuracy = a.Accuracy, MeanMargin = a.MeanMargin };

    RewardModelTrainer RequireTrainer() => _trainer ?? throw new InvalidOperationException(
        $"reward model '{this.GetPrimaryKeyString()}' has no learned model: call StartTraining first (or it was deactivated)");

    public async Task Release()
    {
        await DisbandAsync();
        DisposeReward();
        await DisposeTrainerAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        DisposeReward();
        await DisposeTrainerAsync();
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    void DisposeReward()
    {
        _reward?.Dispose();
        (_reward, _key, _modelWeight) = (null, null, 0);
    }

    async Task DisposeTrainerAsync()
    {
        if (_trainer is not { } trainer) return;
        (_trainer, _scorer) = (null, null);
        await _device.RunAsync(trainer.Dispose);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reward model {ExperimentId}: saved to {Directory}")]
    private partial void LogSaved(string experimentId, string directory);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reward model {ExperimentId}: {Terms}")]
    private partial void LogInitialized(string experimentId, string terms);

    [LoggerMessage(Level = LogLevel.Information, Message = "Reward model {ExperimentId}: training from policy version {Version}; {Pairs} held-out pairs, preference accuracy {Accuracy:P1} before")]
    private partial void LogTrainingStarted(string experimentId, long version, int pairs, double accuracy);
}

using RlhfActors.Abstractions.Config;
using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Sampling;
using RlhfActors.Abstractions.Placement;
using System.Diagnostics;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Grains.Placement;
using RlhfActors.Grains.Policy;
using RlhfActors.Grains.Specs;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Data;
using RlhfActors.Training.Evaluation;

namespace RlhfActors.Grains.Sampling;

/// <summary>
/// Holds an inference copy of an experiment's policy (a <see cref="PolicyEvaluator"/>) and the held-out examples:
/// samples rollout groups for GRPO and evaluates held-out accuracy. It pulls weights from the experiment's <see cref="IPolicyGrain"/> only when its copy is older than asked for.
/// </summary>
[CollectionAgeLimit(Hours = 2), AcceleratorPlacement]
public sealed partial class RolloutSamplerGrain(DeviceWorkers devices, DeviceAllocator allocator, ILogger<RolloutSamplerGrain> logger)
    : Grain, IRolloutSamplerGrain
{
    // The silo's allocator picks this activation's device once: the model is built on it and stays there.
    readonly DeviceWorker _device = devices.Get(allocator.Allocate());
    // Identifies the init the evaluator was built from (canonical config JSON + model config): records compare
    // collections by reference, and every init that crossed the wire is a new instance.
    string? _initKey;
    PolicyEvaluator? _evaluator;
    LoadedData? _data;
    // eval.watch: earlier tasks' held-out sets, evaluated beside the main one for the forgetting watch.
    IReadOnlyList<(string Name, LoadedData Data)> _watched = [];
    int _maxNewTokens;
    // The version held: loaded into the evaluator, or pulled and verified, waiting in _pending until there is one.
    PolicyVersionInfo? _held;
    PulledPolicy? _pending;
    // Under LoRA: the full-weights version loaded as this copy's base, and the adapters' shape.
    long? _heldBase;
    string? _heldBaseSha256;
    Training.Peft.LoraSettings? _peft;

    string ExperimentId => GrainKeys.ExperimentOfSampler(this.GetPrimaryKeyString());

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        LogActivated(this.GetPrimaryKeyString(), GrainContext.Address.SiloAddress!, _device.Device);
        return Task.CompletedTask;
    }

    public Task<GrainPlacement> GetPlacement() =>
        Task.FromResult(new GrainPlacement { Silo = GrainContext.Address.SiloAddress!, Device = _device.Device });

    public async Task Initialize(SamplerInit init)
    {
        ArgumentNullException.ThrowIfNull(init);
        if (init.Config.Name != ExperimentId)
            throw new ArgumentException($"sampler '{this.GetPrimaryKeyString()}' serves experiment '{ExperimentId}', not '{init.Config.Name}'", nameof(init));
        var initKey = Digests.ConfigToJson(init.Config) + "\n" + init.ModelConfigJson;
        if (_evaluator is not null && initKey == _initKey) return;

        await DisposeEvaluatorAsync();
        var config = init.Config;
        var (evaluator, data, watched) = await _device.RunAsync(() =>
        {
            var modelConfig = ExperimentSpecs.ModelConfigFromJson(init.ModelConfigJson);
            var loaded = ExperimentData.Load(ExperimentSpecs.Data(config));
            var watch = config.Eval.Watch.Select(w => (w.Name, ExperimentData.Load(ExperimentSpecs.Watch(config, w)))).ToArray();
            return (PolicyEvaluator.Create(modelConfig, config.Model.ResolvedTokenizer, config.Model.ResolvedSamplerDType.Yaml(), _device.Device), loaded, watch);
        });
        _evaluator = evaluator;
        _data = data;
        _watched = watched;
        _initKey = initKey;
        _maxNewTokens = config.Eval.MaxNewTokens;
        _peft = config.Peft.Enabled ? PeftSpecs.Settings(config.Peft) : null;
        (_sync, _dtype) = (config.WeightSync, ExperimentSpecs.WireDType(config.Model.ResolvedSamplerDType));
        (_heldBase, _heldBaseSha256) = (null, null);
        // A fresh evaluator holds no weights: load a version pulled before it existed, or forget the old one's.
        if (_pending is not null) await LoadPendingAsync();
        else _held = null;
        LogInitialized(this.GetPrimaryKeyString(), data.Eval.Count);
    }

    public async Task<ImmutableArray<EvalSummary>> EvaluateWatched(long minVersion)
    {
        if (_evaluator is not { } evaluator)
            throw new InvalidOperationException($"sampler '{this.GetPrimaryKeyString()}' is not initialized: call Initialize first");
        var held = await SyncPolicy(minVersion);
        var (watched, maxNewTokens) = (_watched, _maxNewTokens);
        var results = await _device.RunAsync(() => watched.Select(w => evaluator.Evaluate(w.Data.Eval, w.Data.Verifier, maxNewTokens)).ToArray());
        return [.. results.Select(r => new EvalSummary
        {
            PolicyVersion = held.Version, Step = held.Step, Examples = r.Examples, Correct = r.Correct, Accuracy = r.Accuracy, Seconds = r.Seconds,
        })];
    }

    public async Task<EvalSummary> Evaluate(long minVersion)
    {
        if (_evaluator is not { } evaluator || _data is not { } data)
            throw new InvalidOperationException($"sampler '{this.GetPrimaryKeyString()}' is not initialized: call Initialize first");
        var held = await SyncPolicy(minVersion);
        var maxNewTokens = _maxNewTokens;
        var result = await _device.RunAsync(() => evaluator.Evaluate(data.Eval, data.Verifier, maxNewTokens));
        return new EvalSummary
        {
            PolicyVersion = held.Version,
            Step = held.Step,
            Examples = result.Examples,
            Correct = result.Correct,
            Accuracy = result.Accuracy,
            Seconds = result.Seconds,
        };
    }

    public async Task<RolloutBatchMessage> Generate(RolloutRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_evaluator is not { } evaluator)
            throw new InvalidOperationException($"sampler '{this.GetPrimaryKeyString()}' is not initialized: call Initialize first");
        if (request.Prompts.IsDefaultOrEmpty) throw new ArgumentException("rollout request has no prompts", nameof(request));
        var syncClock = Stopwatch.StartNew();
        var held = await SyncPolicy(request.MinVersion);
        var syncSeconds = syncClock.Elapsed.TotalSeconds;
        var prompts = request.Prompts.ToPrompts();
        var options = new SamplingOptions { MaxNewTokens = request.MaxNewTokens, Temperature = request.Temperature, Seed = request.Seed };
        var (batch, seconds) = await _device.RunAsync(() =>
        {
            var clock = Stopwatch.StartNew();
            var sampled = evaluator.SampleGroups(prompts, request.GroupSize, options, held.Version);
            return (sampled, clock.Elapsed.TotalSeconds);
        });
        return batch.ToMessage(seconds) with { SyncSeconds = syncSeconds };
    }

    public async Task Release()
    {
        await DisposeEvaluatorAsync();
        _pending = null;
        _held = null;
        (_heldBase, _heldBaseSha256) = (null, null);
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await DisposeEvaluatorAsync();
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    async Task DisposeEvaluatorAsync()
    {
        if (_evaluator is not { } evaluator) return;
        _evaluator = null;
        _data = null;
        _initKey = null;
        await _device.RunAsync(evaluator.Dispose);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sampler {Grain} activated on silo {Silo}, device {Device}")]
    private partial void LogActivated(string grain, SiloAddress silo, string device);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sampler {Sampler}: evaluator ready ({Eval} held-out examples)")]
    private partial void LogInitialized(string sampler, int eval);
}

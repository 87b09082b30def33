using RlhfActors.Abstractions.Config;
using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Device;
using RlhfActors.Grains.Placement;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Grains.Policy;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Evaluation;
using RlhfActors.Training.Preference;

namespace RlhfActors.Grains.Reference;

/// <summary>
/// The frozen reference policy: one inference copy of the version GRPO started from, asked for the completions'
/// log-probs each step when β &gt; 0 (never otherwise — the controller skips the call, which saves a forward pass).
/// A heavy grain: placed on an accelerator silo, its forward passes on the silo's device worker.
/// </summary>
[CollectionAgeLimit(Hours = 2), AcceleratorPlacement]
public sealed partial class ReferenceGrain(DeviceWorkers devices, DeviceAllocator allocator, ILogger<ReferenceGrain> logger)
    : Grain, IReferenceGrain
{
    readonly DeviceWorker _device = devices.Get(allocator.Allocate());
    PolicyEvaluator? _model;
    string? _initKey;
    // DPO asks for the same pairs every epoch (and held-out pairs at every evaluation): each is computed once per
    // frozen version. Replaced whenever another version is frozen.
    ReferenceLogProbCache _pairCache = new();

    public Task<GrainPlacement> GetPlacement() =>
        Task.FromResult(new GrainPlacement { Silo = GrainContext.Address.SiloAddress!, Device = _device.Device });

    public async Task Initialize(ReferenceInit init)
    {
        ArgumentNullException.ThrowIfNull(init);
        var experimentId = this.GetPrimaryKeyString();
        var key = $"{Digests.ConfigToJson(init.Model.Config)}\n{init.Model.ModelConfigJson}\n{init.Version}";
        if (_model is not null && key == _initKey) return;

        var config = init.Model.Config;
        var version = await PolicyPuller.For(GrainFactory, experimentId, config.WeightSync, logger).PullAsync(init.Version);
        if (version is null && init.Checkpoint.Length == 0)
            throw new InvalidOperationException(
                $"experiment '{experimentId}': reference policy version {init.Version} is no longer held by the policy registry");
        await DisposeModelAsync();
        var weights = version?.Weights;
        _model = await _device.RunAsync(() =>
        {
            // A resumed run whose registry lost the version (with its silo): the checkpoint that holds the same
            // weights, verified before it is read.
            var frozen = weights ?? CheckpointReader.OpenWeights(init.Checkpoint);
            var model = PolicyEvaluator.Create(ExperimentSpecs.ModelConfigFromJson(init.Model.ModelConfigJson),
                config.Model.ResolvedTokenizer, config.Model.DType.Yaml(), _device.Device);
            model.LoadWeights(frozen);
            return model;
        });
        _initKey = key;
        _pairCache = new ReferenceLogProbCache();
        LogInitialized(experimentId, init.Version, GrainContext.Address.SiloAddress!, _device.Device);
    }

    public async Task<ImmutableArray<float[]>> LogProbs(RolloutBatchMessage rollouts, double temperature)
    {
        var model = _model ?? throw new InvalidOperationException(
            $"reference '{this.GetPrimaryKeyString()}' holds no model: call Initialize first (or it was deactivated)");
        var batch = rollouts.ToBatch();
        var rows = await _device.RunAsync(() => model.CompletionLogProbs(batch, temperature));
        return [.. rows];
    }

    public async Task<ImmutableArray<PairLogProbs>> PairLogProbs(ImmutableArray<PreferencePairItem> pairs)
    {
        var model = _model ?? throw new InvalidOperationException(
            $"reference '{this.GetPrimaryKeyString()}' holds no model: call Initialize first (or it was deactivated)");
        var cache = _pairCache;
        var asked = pairs.Select(p => p.ToPair()).ToArray();
        var rows = cache.Missing(asked).Count == 0
            ? cache.GetOrCompute(asked, _ => [])
            : await _device.RunAsync(() => cache.GetOrCompute(asked, model.PairLogProbs));
        return [.. rows.Select(lp => new PairLogProbs(lp.Chosen, lp.Rejected))];
    }

    public async Task Release()
    {
        await DisposeModelAsync();
        DeactivateOnIdle();
    }

    public override async Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        await DisposeModelAsync();
        await base.OnDeactivateAsync(reason, cancellationToken);
    }

    async Task DisposeModelAsync()
    {
        if (_model is not { } model) return;
        (_model, _initKey) = (null, null);
        await _device.RunAsync(model.Dispose);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Reference {ExperimentId}: froze policy version {Version} on silo {Silo}, device {Device}")]
    private partial void LogInitialized(string experimentId, long version, SiloAddress silo, string device);
}

using System.Collections.Immutable;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Policy;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Sampling;

namespace RlhfActors.Grains.Sampling;

/// <summary>Multi-LoRA serving on the sampler: one base, the newest adapter of every experiment a batch names, one
/// batched generation in which each row runs through its own adapter (<see cref="AdapterBank"/>).</summary>
public sealed partial class RolloutSamplerGrain
{
    public async Task<AdapterGenerationResult> GenerateForAdapters(AdapterGenerationRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (_evaluator is not { } evaluator)
            throw new InvalidOperationException($"sampler '{this.GetPrimaryKeyString()}' is not initialized: call Initialize first");
        if (request.Rows.IsDefaultOrEmpty) throw new ArgumentException("adapter generation request has no rows", nameof(request));
        // The base is this sampler's own experiment's: make sure it is loaded.
        if (_heldBaseSha256 is null) await SyncPolicy(0);
        var baseSha = _heldBaseSha256!;

        var adapters = new List<NamedAdapter>();
        var versions = ImmutableSortedDictionary.CreateBuilder<string, long>(StringComparer.Ordinal);
        foreach (var experiment in request.Rows.Select(r => r.ExperimentId).OfType<string>().Distinct(StringComparer.Ordinal))
        {
            var registry = GrainFactory.GetGrain<IPolicyGrain>(experiment);
            var latest = await registry.DescribeLatest()
                         ?? throw new InvalidOperationException($"experiment '{experiment}' has published no policy yet");
            if (!latest.IsAdapter)
                throw new InvalidOperationException($"experiment '{experiment}': policy version {latest.Version} is full weights, not a LoRA adapter");
            var adapter = await new PolicyPuller(registry, _sync, logger).PullAsync(latest.Version)
                          ?? throw new InvalidOperationException($"experiment '{experiment}': policy version {latest.Version} was evicted before it could be pulled");
            if (adapter.Manifest.BaseSha256 != baseSha)
                throw new InvalidOperationException($"experiment '{experiment}': its adapter was trained on base {Short(adapter.Manifest.BaseSha256)}, sampler '{this.GetPrimaryKeyString()}' holds base {Short(baseSha)}");
            adapters.Add(NamedAdapter.FromTensors(experiment, adapter.Manifest.AdapterAlpha, adapter.Weights));
            versions[experiment] = latest.Version;
        }

        var prompts = request.Rows.Select(r => r.Prompt).ToArray();
        var rowAdapters = request.Rows.Select(r => r.ExperimentId).ToArray();
        var options = new SamplingOptions
        {
            MaxNewTokens = request.MaxNewTokens,
            Greedy = request.Temperature <= 0,
            Temperature = request.Temperature > 0 ? request.Temperature : 1.0,
            Seed = request.Seed,
        };
        var generated = await _device.RunAsync(() => evaluator.GenerateForAdapters(prompts, rowAdapters, adapters, options));
        return new AdapterGenerationResult
        {
            CompletionIds = [.. generated.Ids],
            LogProbs = [.. generated.LogProbs],
            AdapterVersions = versions.ToImmutable(),
            BaseSha256 = baseSha,
        };
    }

    static string Short(string sha) => sha.Length > 12 ? sha[..12] : sha;
}

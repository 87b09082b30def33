using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Placement;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Abstractions.Sampling;

namespace RlhfActors.Abstractions.Grains;

/// <summary>Holds an inference copy of an experiment's policy (key: <see cref="GrainKeys.Sampler"/>).</summary>
[Alias("rlhf.IRolloutSamplerGrain")]
public interface IRolloutSamplerGrain : IGrainWithStringKey
{
    /// <summary>Builds the evaluator and the held-out data. Idempotent: a second call with the same init is a
    /// no-op, so a controller may call it before every use (a re-activated sampler then rebuilds itself).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Initialize")]
    Task Initialize(SamplerInit init);

    /// <summary>Makes sure the sampler holds at least <paramref name="minVersion"/>, pulling the newest version
    /// from the <see cref="IPolicyGrain"/> when its copy is older; describes the version it holds.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("SyncPolicy")]
    Task<PolicyVersionInfo> SyncPolicy(long minVersion);

    /// <summary>What this activation's policy syncs moved: bytes over the wire against whole copies (delta sync).</summary>
    [Alias("GetSyncStats")]
    Task<PolicySyncStats> GetSyncStats();

    /// <summary>SHA-256 (<see cref="Tensors.PayloadDigest"/>) of the base weights the evaluator holds now, read from the
    /// model in its compute dtype; "" when it holds none. Two copies of a version compare by it.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("GetHeldWeightsSha256")]
    Task<string> GetHeldWeightsSha256();

    /// <summary>Greedy evaluation on the held-out examples with policy version <paramref name="minVersion"/> or newer.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Evaluate")]
    Task<EvalSummary> Evaluate(long minVersion);

    /// <summary>Forgetting watch: greedy evaluation of each <c>eval.watch</c> task's held-out set (in config order) with
    /// version <paramref name="minVersion"/> or newer.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("EvaluateWatched")]
    Task<System.Collections.Immutable.ImmutableArray<EvalSummary>> EvaluateWatched(long minVersion);

    /// <summary>G completions per prompt of the request's shard, sampled with version <see cref="RolloutRequest.MinVersion"/>
    /// or newer (pulled from the policy registry first when the held copy is older).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Generate")]
    Task<RolloutBatchMessage> Generate(RolloutRequest request);

    /// <summary>Multi-LoRA serving: one batch whose rows each name an experiment whose newest adapter generates them
    /// (or none: the bare base), all on this sampler's one base. Every named experiment's adapter must have been
    /// trained on the base this sampler holds (same weights digest): experiments that share a base share samplers.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("GenerateForAdapters")]
    Task<AdapterGenerationResult> GenerateForAdapters(AdapterGenerationRequest request);

    /// <summary>The silo and device this activation runs on (activates the grain; builds no model).</summary>
    [Alias("GetPlacement")]
    Task<GrainPlacement> GetPlacement();

    [Alias("Release")]
    Task Release();
}

using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Policy;

namespace RlhfActors.Abstractions.Grains;

/// <summary>An experiment's registry of published policy versions (key: experiment id). Holds the newest few in
/// memory (samplers pull from it) and the index of all of them in grain storage.</summary>
[Alias("rlhf.IPolicyGrain")]
public interface IPolicyGrain : IGrainWithStringKey
{
    /// <summary>Adds a version; it must be newer than the latest one and belong to this experiment.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Publish")]
    Task<PolicyVersionInfo> Publish(PolicyVersion version);

    /// <summary>The newest version, or null before the first publication.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("GetLatest")]
    Task<PolicyVersion?> GetLatest();

    /// <summary>A version still held, or null (never published, or evicted as too old).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("GetVersion")]
    Task<PolicyVersion?> GetVersion(long version);

    /// <summary>Every version ever published, oldest first, without weights: kept in grain storage, so it outlives the
    /// activation (and, on a Redis cluster, every silo).</summary>
    [Alias("GetIndex")]
    Task<System.Collections.Immutable.ImmutableArray<PolicyVersionInfo>> GetIndex();

    /// <summary>The newest version number; -1 before the first publication.</summary>
    [Alias("GetLatestVersionNumber")]
    Task<long> GetLatestVersionNumber();

    /// <summary>Whether the weights of <paramref name="version"/> are held (the index survives a lost silo, the
    /// weights do not).</summary>
    [Alias("Holds")]
    Task<bool> Holds(long version);

    /// <summary>The run has ended (completed, failed or stopped): the weights go, the index stays, so a later run of
    /// this experiment continues the numbering and a resumed one republishes from its checkpoint. Only the newest
    /// version is kept, and only when it is a LoRA adapter (a few MB), for <see cref="IRolloutSamplerGrain.GenerateForAdapters"/>
    /// to serve on another experiment's base.</summary>
    [Alias("Release")]
    Task Release();

    /// <summary>Bytes of weights held in memory, over every version held: what this registry costs its silo now (a
    /// finished run's registry should cost next to nothing).</summary>
    [Alias("GetHeldBytes")]
    Task<long> GetHeldBytes();
}

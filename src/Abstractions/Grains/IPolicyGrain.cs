using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Policy;

namespace RlhfActors.Abstractions.Grains;

/// <summary>An experiment's registry of published policy versions (key: experiment id). Holds the newest few in
/// memory (samplers pull from it) and the index of all of them in grain storage.</summary>
[Alias("rlhf.IPolicyGrain")]
public interface IPolicyGrain : IGrainWithStringKey
{
    /// <summary>Adds a version, in one message; it must be newer than the latest one and belong to this experiment.
    /// Only for versions well under the message limit (tests, tools): the grains publish in chunks
    /// (<see cref="BeginPublish"/>).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("Publish")]
    Task<PolicyVersionInfo> Publish(PolicyVersion version);

    /// <summary>Starts a chunked publication: the new version's manifest (every tensor Full, as published) and the
    /// digest of its bytes. The same rules as <see cref="Publish"/> apply; a second call for the same version starts
    /// it again.</summary>
    [Alias("BeginPublish")]
    Task BeginPublish(PolicyTransfer manifest);

    /// <summary>One byte range of a publication begun with <see cref="BeginPublish"/>; sent again, it replaces the
    /// range.</summary>
    [ResponseTimeout(RlhfLimits.ChunkCallTimeout), Alias("PutChunk")]
    Task PutChunk(long version, PolicyChunk chunk);

    /// <summary>Ends a chunked publication: every byte must have arrived and hash to the manifest's digest, else the
    /// version is refused (and dropped) with both digests; only then does it become visible.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("CommitPublish")]
    Task<PolicyVersionInfo> CommitPublish(long version);

    /// <summary>The newest version held, without its weights, or null before the first publication.</summary>
    [Alias("DescribeLatest")]
    Task<PolicyVersionInfo?> DescribeLatest();

    /// <summary>The manifest of a transfer of a held version (null: not held, never published or evicted). A delta
    /// against <see cref="PolicyTransferKey.FromVersion"/> when that version is still held, else the whole version.
    /// Builds what the transfer needs (a dtype's rounding, a delta) once; its chunks are then
    /// <see cref="GetChunk"/>'s.</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("PrepareTransfer")]
    Task<PolicyTransfer?> PrepareTransfer(PolicyTransferKey key);

    /// <summary>Bytes [offset, offset + length) of the stream of the transfer <paramref name="key"/> names (the key of
    /// <see cref="PrepareTransfer"/>'s manifest); length at most <see cref="RlhfLimits.MaxSyncChunkBytes"/>.</summary>
    [ResponseTimeout(RlhfLimits.ChunkCallTimeout), Alias("GetChunk")]
    Task<PolicyChunk> GetChunk(PolicyTransferKey key, long offset, int length);

    /// <summary>The newest version, or null before the first publication, in one message: only for versions well
    /// under the message limit (tests, tools); the grains pull in chunks (<see cref="PrepareTransfer"/>).</summary>
    [ResponseTimeout(RlhfLimits.LongCallTimeout), Alias("GetLatest")]
    Task<PolicyVersion?> GetLatest();

    /// <summary>A version still held, or null (never published, or evicted as too old), in one message; see
    /// <see cref="GetLatest"/>.</summary>
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

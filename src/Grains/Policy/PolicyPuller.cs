using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Weights;

namespace RlhfActors.Grains.Policy;

/// <summary>The full version a puller holds, as delta sync's starting point: its number, and how to read its weights
/// (in the dtype asked for) should the registry send a delta.</summary>
public sealed record HeldWeights(long Version, Func<Task<IReadOnlyList<TensorBytes>>> Export);

/// <summary>A version pulled and verified: its manifest, its weights, and the bytes its transfer moved.</summary>
public sealed record PulledPolicy(PolicyTransfer Manifest, IReadOnlyList<TensorBytes> Weights, long BytesMoved)
{
    public PolicyVersionInfo Info => Manifest.Info;
}

/// <summary>
/// Pulls policy versions from an experiment's registry in chunks (issue 16): the manifest first, then
/// <see cref="WeightSyncSection.Concurrency"/> chunks in flight into a staging buffer, then the weights rebuilt and
/// their digest compared with the manifest's before anything is returned, so a caller never loads bytes that did
/// not arrive intact. A delta that does not rebuild the registry's digest (the held copy was not the version it
/// names) is dropped, and the whole version pulled instead; a whole version that does not verify is an error naming
/// the version.
/// </summary>
public sealed partial class PolicyPuller(IPolicyGrain registry, WeightSyncSection settings, ILogger logger)
{
    /// <summary>A puller of <paramref name="experimentId"/>'s registry.</summary>
    public static PolicyPuller For(IGrainFactory grains, string experimentId, WeightSyncSection settings, ILogger logger) =>
        new(grains.GetGrain<IPolicyGrain>(experimentId), settings, logger);

    /// <summary>The newest version the registry holds (null before the first publication).</summary>
    public Task<PolicyVersionInfo?> LatestAsync() => registry.DescribeLatest();

    /// <summary>Version <paramref name="version"/>, as published (<paramref name="dtype"/> "") or a full version
    /// rounded to <paramref name="dtype"/>; a delta against <paramref name="held"/> when given and the registry
    /// still holds it. Null when the registry does not hold the version.</summary>
    public async Task<PulledPolicy?> PullAsync(long version, string dtype = "", HeldWeights? held = null)
    {
        var key = new PolicyTransferKey { Version = version, DType = dtype, FromVersion = held?.Version ?? -1 };
        if (await registry.PrepareTransfer(key) is not { } manifest) return null;
        long moved = 0;
        if (manifest.IsDelta)
        {
            var staged = await ReceiveAsync(manifest);
            moved += manifest.StreamBytes;
            try
            {
                var from = await held!.Export();
                return new PulledPolicy(manifest, await RebuildVerifiedAsync(manifest, staged, from), moved);
            }
            catch (InvalidDataException e)
            {
                LogDeltaRefused(manifest.Info.ExperimentId, version, manifest.Key.FromVersion, e.Message);
            }
            manifest = await registry.PrepareTransfer(key with { FromVersion = -1 })
                       ?? throw new InvalidOperationException($"experiment '{manifest.Info.ExperimentId}': policy version {version} was evicted during its pull");
        }
        var whole = await ReceiveAsync(manifest);
        moved += manifest.StreamBytes;
        return new PulledPolicy(manifest, await RebuildVerifiedAsync(manifest, whole, null), moved);
    }

    /// <summary>Every chunk of the transfer, in a staging buffer.</summary>
    async Task<SegmentedBytes> ReceiveAsync(PolicyTransfer manifest)
    {
        var staged = PolicyTransfers.Staging(manifest);
        await ChunkLoop.ForEachAsync(staged.Length, settings.ChunkBytes, settings.Concurrency, async (offset, length) =>
        {
            var chunk = await registry.GetChunk(manifest.Key, offset, length);
            if (chunk.Offset != offset || chunk.Data.Length != length)
                throw new InvalidDataException($"experiment '{manifest.Info.ExperimentId}': policy version {manifest.Info.Version}: asked for bytes [{offset}, {offset + length}), got {chunk.Data.Length} at {chunk.Offset}");
            staged.Write(offset, chunk.Data.Span);
        });
        return staged;
    }

    /// <summary>The weights the stream rebuilds, once their digest is the manifest's. Hashing a large version takes
    /// seconds: off the caller's (a grain's) thread.</summary>
    static Task<IReadOnlyList<TensorBytes>> RebuildVerifiedAsync(PolicyTransfer manifest, SegmentedBytes staged, IReadOnlyList<TensorBytes>? held) => Task.Run(() =>
    {
        var weights = PolicyTransfers.Rebuild(manifest, staged, held);
        var sha256 = PayloadDigest.Sha256(weights.Select(w => w.ToPayload()));
        if (sha256 != manifest.Sha256)
            throw new InvalidDataException($"experiment '{manifest.Info.ExperimentId}': policy version {manifest.Info.Version}{PolicyTransfers.Described(manifest.Key)} " +
                                           $"failed its digest check: the registry's SHA-256 is {manifest.Sha256}, the bytes received hash to {sha256}; it is not used");
        return weights;
    });

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: the delta of policy version {Version} from version {From} did not rebuild it ({Reason}); pulling the whole version")]
    private partial void LogDeltaRefused(string experimentId, long version, long from, string reason);
}

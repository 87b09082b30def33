using Microsoft.Extensions.Logging;
using System.Collections.Immutable;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Tensors;
using RlhfActors.Grains.Tensors;
using RlhfActors.Training.Weights;

namespace RlhfActors.Grains.Policy;

/// <summary>
/// Serving versions in chunks: a manifest per transfer, then byte ranges of its stream. A sampler asks for its compute
/// dtype, so the registry rounds a full version to it once (a view) and, when the sampler holds an older full version
/// still held here, sends only the elements that changed between the two views (delta sync). Views live as long as
/// their version; deltas are built for the newest version only, once for every sampler that asks.
/// </summary>
public sealed partial class PolicyGrain
{
    // A full version rounded to a dtype, by (version, dtype); a view in the published dtype shares its arrays.
    readonly Dictionary<(long Version, string DType), WeightView> _views = [];
    // Built transfers by the key asked for (a delta asked of a version no longer held resolves to a whole transfer).
    readonly Dictionary<PolicyTransferKey, BuiltTransfer> _transfers = [];

    public Task<PolicyVersionInfo?> DescribeLatest() => Task.FromResult(_versions.Count > 0 ? InfoOf(_versions[^1]) : null);

    public async Task<PolicyTransfer?> PrepareTransfer(PolicyTransferKey key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return (await BuildAsync(key))?.Manifest;
    }

    public async Task<PolicyChunk> GetChunk(PolicyTransferKey key, long offset, int length)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (length is <= 0 or > RlhfLimits.MaxSyncChunkBytes)
            throw new ArgumentOutOfRangeException(nameof(length), length, $"a chunk is 1 to {RlhfLimits.MaxSyncChunkBytes} bytes");
        var built = await BuildAsync(key)
                    ?? throw new InvalidOperationException($"experiment '{this.GetPrimaryKeyString()}': policy version {key.Version} is no longer held (evicted during its transfer)");
        return new PolicyChunk { Offset = offset, Data = built.Stream.Read(offset, length) };
    }

    /// <summary>The transfer <paramref name="key"/> asks for, built once (null when the version is not held).</summary>
    async Task<BuiltTransfer?> BuildAsync(PolicyTransferKey key)
    {
        if (_transfers.TryGetValue(key, out var cached)) return cached;
        if (_versions.Find(v => v.Version == key.Version) is not { } version) return null;
        var info = InfoOf(version);
        BuiltTransfer built;
        if (version.IsAdapter || key.DType.Length == 0)
        {
            built = new BuiltTransfer(PolicyTransfers.Whole(version, info), PolicyTransfers.Stream(version.Weights), OwnBytes: 0);
        }
        else
        {
            var view = await ViewAsync(version, info, key.DType);
            var from = key.FromVersion >= 0 && key.FromVersion != key.Version
                ? _versions.Find(v => v.Version == key.FromVersion && !v.IsAdapter)
                : null;
            var delta = from is null ? null : await DeltaAsync(await ViewAsync(from, InfoOf(from), key.DType), view);
            var resolved = delta is null ? key with { FromVersion = -1 } : key;
            var (tensors, stream) = delta ?? PolicyTransfers.Whole(view.Weights);
            var manifest = PolicyTransfers.Whole(version, info) with { Key = resolved, Tensors = tensors, Sha256 = view.Sha256, FullBytes = view.Bytes };
            built = new BuiltTransfer(manifest, stream, OwnBytes: delta is null ? 0 : stream.Length);
            LogTransferBuilt(this.GetPrimaryKeyString(), key.Version, PolicyTransfers.Described(resolved), stream.Length, view.Bytes);
        }
        _transfers[key] = built;
        return built;
    }

    /// <summary>Only what changed from one view to the next; null when they do not compare (other tensors or shapes:
    /// the whole version goes instead). Comparing two versions element by element takes about a second per GB: off
    /// the grain's thread.</summary>
    async Task<(ImmutableArray<TransferTensor> Tensors, SegmentedBytes Stream)?> DeltaAsync(WeightView from, WeightView to)
    {
        try
        {
            return await Task.Run(() => PolicyTransfers.Delta(WeightDelta.Encode(from.Weights, to.Weights)));
        }
        catch (ArgumentException e)
        {
            LogNoDelta(this.GetPrimaryKeyString(), e.Message);
            return null;
        }
    }

    /// <summary>A full version's weights in <paramref name="dtype"/> and their digest, made once per version.</summary>
    async Task<WeightView> ViewAsync(PolicyVersion version, PolicyVersionInfo info, string dtype)
    {
        if (_views.TryGetValue((version.Version, dtype), out var cached)) return cached;
        var published = version.Weights.ToTensorBytes();
        var view = await Task.Run(() =>
        {
            var weights = WeightCast.To(published, dtype);
            // Nothing to round (an fp32 sampler of an fp32 policy): the published arrays and digest serve as they are.
            var shared = weights.Zip(published).All(p => ReferenceEquals(p.First, p.Second));
            var bytes = weights.Sum(w => (long)w.Data.Length);
            return shared
                ? new WeightView(weights, info.Sha256, bytes, OwnBytes: 0)
                : new WeightView(weights, PayloadDigest.Sha256(weights.Select(w => w.ToPayload())), bytes, OwnBytes: bytes);
        });
        _views[(version.Version, dtype)] = view;
        return view;
    }

    /// <summary>Forgets the deltas (they are built for the newest version) and the views of versions no longer held.</summary>
    void DropTransfers()
    {
        _transfers.Clear();
        foreach (var key in _views.Keys.Where(k => !_versions.Exists(v => v.Version == k.Version)).ToArray()) _views.Remove(key);
    }

    long TransferBytes() => _views.Values.Sum(v => v.OwnBytes) + _transfers.Values.Sum(t => t.OwnBytes);

    /// <summary>A held version's index entry (written when it was published), so its digest is never recomputed.</summary>
    PolicyVersionInfo InfoOf(PolicyVersion version) =>
        index.State.Versions.FindLast(i => i.Version == version.Version) ?? version.Describe();

    /// <summary>A version's weights in one dtype, their digest and size; OwnBytes: what it holds beyond the published
    /// arrays.</summary>
    sealed record WeightView(IReadOnlyList<TensorBytes> Weights, string Sha256, long Bytes, long OwnBytes);

    /// <summary>A transfer ready to serve: its manifest, its stream, and what it holds beyond the versions and views.</summary>
    sealed record BuiltTransfer(PolicyTransfer Manifest, SegmentedBytes Stream, long OwnBytes);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Experiment {ExperimentId}: transfer of policy version {Version}{Kind} built: {StreamBytes} of {FullBytes} bytes")]
    private partial void LogTransferBuilt(string experimentId, long version, string kind, long streamBytes, long fullBytes);

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: two policy versions do not compare ({Reason}); the whole version is sent")]
    private partial void LogNoDelta(string experimentId, string reason);
}

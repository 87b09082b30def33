using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Tensors;

namespace RlhfActors.Grains.Policy;

/// <summary>Chunked publication: a new version's chunks are assembled in a staging buffer and the version becomes
/// visible only at the commit, once every byte arrived and they hash to the digest the publisher announced.</summary>
public sealed partial class PolicyGrain
{
    // The publication under way: a learner publishes one version at a time, so a new one replaces an abandoned one
    // (its publisher gone) instead of holding its buffer until the run ends.
    PolicyUpload? _upload;

    public Task BeginPublish(PolicyTransfer manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        if (manifest.IsDelta || manifest.Key.DType.Length > 0 || manifest.Key.Version != manifest.Info.Version
            || manifest.Tensors.Any(t => t.Change != TransferChange.Full))
            throw new ArgumentException($"policy version {manifest.Info.Version}: a publication carries its whole version as published (key {manifest.Key})", nameof(manifest));
        CheckPublishable(Header(manifest, []), manifest.Tensors.IsDefaultOrEmpty);
        // The abandoned buffer may be collected while the new one is allocated.
        _upload = null;
        _upload = new PolicyUpload(manifest, PolicyTransfers.Staging(manifest));
        return Task.CompletedTask;
    }

    public Task PutChunk(long version, PolicyChunk chunk)
    {
        ArgumentNullException.ThrowIfNull(chunk);
        var upload = Upload(version);
        upload.Staged.Write(chunk.Offset, chunk.Data.Span);
        upload.Received[chunk.Offset] = chunk.Data.Length;
        return Task.CompletedTask;
    }

    public async Task<PolicyVersionInfo> CommitPublish(long version)
    {
        var upload = Upload(version);
        var manifest = upload.Manifest;
        // Chunks may arrive in any order and a retried one replaces its range; together they must cover the stream once.
        long covered = 0;
        foreach (var (offset, length) in upload.Received)
        {
            if (offset != covered) break;
            covered += length;
        }
        if (covered != upload.Staged.Length)
            throw new InvalidOperationException($"policy version {version}: the chunks received cover bytes [0, {covered}) of {upload.Staged.Length} contiguously; it is not complete");

        var arrays = upload.Staged.Arrays;
        var weights = manifest.Tensors.Select((t, i) => new TensorPayload { Name = t.Name, DType = t.DType, Shape = t.Shape, Data = arrays[i] }).ToArray();
        var sha256 = await Task.Run(() => PayloadDigest.Sha256(weights));
        _upload = null;
        if (sha256 != manifest.Sha256)
            throw new InvalidDataException($"experiment '{manifest.Info.ExperimentId}': policy version {version} failed its digest check: the publisher's SHA-256 is {manifest.Sha256}, the bytes received hash to {sha256}; it is refused");

        var published = Header(manifest, [.. weights]);
        // Another publication may have won the number while the bytes travelled.
        CheckPublishable(published, empty: false);
        return await AddAsync(published, published.Describe(sha256));
    }

    PolicyUpload Upload(long version) => _upload is { } upload && upload.Manifest.Info.Version == version
        ? upload
        : throw new InvalidOperationException($"experiment '{this.GetPrimaryKeyString()}': no publication of policy version {version} is under way (BeginPublish first; a newer one replaces it)");

    static PolicyVersion Header(PolicyTransfer manifest, System.Collections.Immutable.ImmutableArray<TensorPayload> weights) => new()
    {
        ExperimentId = manifest.Info.ExperimentId,
        Version = manifest.Info.Version,
        Step = manifest.Info.Step,
        Weights = weights,
        PublishedAt = manifest.PublishedAt,
        BaseVersion = manifest.Info.BaseVersion,
        AdapterAlpha = manifest.AdapterAlpha,
        BaseSha256 = manifest.BaseSha256,
    };

    /// <summary>A publication under way: its manifest, the buffer its chunks fill, and the ranges received (offset →
    /// length).</summary>
    sealed record PolicyUpload(PolicyTransfer Manifest, SegmentedBytes Staged)
    {
        public SortedDictionary<long, int> Received { get; } = [];
    }
}

namespace RlhfActors.Abstractions.Policy;

/// <summary>What a puller's policy syncs moved (a sampler's, since its activation): bytes over the wire against
/// what whole copies in its compute dtype would have moved, so a controller can report what delta sync saved.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.PolicySyncStats")]
public sealed record PolicySyncStats
{
    /// <summary>Transfers received: full versions, adapters, bases.</summary>
    [Id(0)] public int Pulls { get; init; }
    /// <summary>Of them, those that moved only what changed since the version held.</summary>
    [Id(1)] public int DeltaPulls { get; init; }
    [Id(2)] public long BytesMoved { get; init; }
    /// <summary>What the same pulls would have moved as whole copies.</summary>
    [Id(3)] public long FullBytes { get; init; }
    /// <summary>The newest pull: its version and bytes moved (−1, 0 before any).</summary>
    [Id(4)] public long LastVersion { get; init; } = -1;
    [Id(5)] public long LastBytesMoved { get; init; }

    /// <summary>These figures with one more pull.</summary>
    public PolicySyncStats Add(long version, long bytesMoved, long fullBytes, bool delta) => this with
    {
        Pulls = Pulls + 1,
        DeltaPulls = DeltaPulls + (delta ? 1 : 0),
        BytesMoved = BytesMoved + bytesMoved,
        FullBytes = FullBytes + fullBytes,
        LastVersion = version,
        LastBytesMoved = bytesMoved,
    };
}

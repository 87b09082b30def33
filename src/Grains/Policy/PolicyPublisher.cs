using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Tensors;

namespace RlhfActors.Grains.Policy;

/// <summary>Publishes a policy version to its registry in chunks (issue 16): the manifest with the digest of its bytes,
/// the chunks (<see cref="WeightSyncSection.Concurrency"/> in flight), then the commit, at which the registry
/// verifies the digest before the version becomes visible. A version of any size travels this way; each message
/// carries at most <see cref="WeightSyncSection.ChunkBytes"/>.</summary>
public static class PolicyPublisher
{
    public static async Task<PolicyVersionInfo> PublishAsync(IPolicyGrain registry, PolicyVersion version, WeightSyncSection settings)
    {
        ArgumentNullException.ThrowIfNull(version);
        // Seconds for a large version: off the caller's (a grain's) thread.
        var sha256 = await Task.Run(() => PayloadDigest.Sha256(version.Weights));
        await registry.BeginPublish(PolicyTransfers.Whole(version, version.Describe(sha256)));
        var stream = PolicyTransfers.Stream(version.Weights);
        await ChunkLoop.ForEachAsync(stream.Length, settings.ChunkBytes, settings.Concurrency, (offset, length) =>
            registry.PutChunk(version.Version, new PolicyChunk { Offset = offset, Data = stream.Read(offset, length) }));
        return await registry.CommitPublish(version.Version);
    }
}

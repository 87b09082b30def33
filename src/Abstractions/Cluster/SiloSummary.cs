using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Cluster;

/// <summary>One silo of the cluster as <c>rlhf cluster</c> shows it: where it is, whether it is alive, what hardware it
/// advertises and how many grains of each role it hosts now.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.SiloSummary")]
public sealed record SiloSummary
{
    /// <summary>Silo address as Orleans writes it (ip:port@generation).</summary>
    [Id(0)] public string Address { get; init; } = "";
    [Id(1)] public string Name { get; init; } = "";
    /// <summary>Membership status: Active, Joining, ShuttingDown, Dead, …</summary>
    [Id(2)] public string Status { get; init; } = "";
    /// <summary>Port clients connect to; 0 when the silo is no gateway.</summary>
    [Id(3)] public int GatewayPort { get; init; }
    /// <summary>"cuda" or "none", as the silo advertises it for placement.</summary>
    [Id(4)] public string Accelerator { get; init; } = "none";
    [Id(5)] public int DeviceCount { get; init; }
    /// <summary>Activations per role (controller, learner, sampler, policy, reference, reward, critic, judge); empty
    /// for a silo that is not active.</summary>
    [Id(6)] public ImmutableSortedDictionary<string, int> Roles { get; init; } = ImmutableSortedDictionary<string, int>.Empty;
    [Id(7)] public DateTimeOffset StartedAt { get; init; }
}

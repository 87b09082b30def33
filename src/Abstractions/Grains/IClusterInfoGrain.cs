using System.Collections.Immutable;
using RlhfActors.Abstractions.Cluster;

namespace RlhfActors.Abstractions.Grains;

/// <summary>What <c>rlhf cluster</c> shows of the silos (key: 0). Answers from the silo the call lands on, which sees
/// the whole membership.</summary>
[Alias("rlhf.IClusterInfoGrain")]
public interface IClusterInfoGrain : IGrainWithIntegerKey
{
    /// <summary>Every silo in the membership table (the dead ones until their row expires), oldest first.</summary>
    [Alias("GetSilos")]
    Task<ImmutableArray<SiloSummary>> GetSilos();
}

using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Grains;

/// <summary>Every experiment ever started on the cluster (key: <see cref="GrainKeys.ExperimentDirectory"/>), persisted
/// with the experiments' own records (Redis on a cluster), so <c>rlhf list</c> finds runs after any silo restarts.
/// Each experiment's state is its own grain's; the directory holds ids only.</summary>
[Alias("rlhf.IExperimentDirectoryGrain")]
public interface IExperimentDirectoryGrain : IGrainWithStringKey
{
    /// <summary>Adds an id (idempotent).</summary>
    [Alias("Register")]
    Task Register(string experimentId);

    /// <summary>Every registered id, in the order first started.</summary>
    [Alias("List")]
    Task<ImmutableArray<string>> List();
}

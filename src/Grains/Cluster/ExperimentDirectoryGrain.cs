using System.Collections.Immutable;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Grains.Experiments;
using RlhfActors.Grains.Placement;

namespace RlhfActors.Grains.Cluster;

/// <summary>The cluster's list of experiment ids, in grain storage beside the experiment records.</summary>
[ControlPlanePlacement]
public sealed class ExperimentDirectoryGrain(
    [PersistentState("directory", GrainStorage.Experiments)] IPersistentState<ExperimentDirectory> state) : Grain, IExperimentDirectoryGrain
{
    public async Task Register(string experimentId)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(experimentId);
        if (state.State.Ids.Contains(experimentId)) return;
        state.State.Ids.Add(experimentId);
        await state.WriteStateAsync();
    }

    public Task<ImmutableArray<string>> List() => Task.FromResult(state.State.Ids.ToImmutableArray());
}

/// <summary>The directory's persisted state.</summary>
[GenerateSerializer, Alias("rlhf.ExperimentDirectory")]
public sealed class ExperimentDirectory
{
    [Id(0)] public List<string> Ids { get; set; } = [];
}

namespace RlhfActors.Abstractions.Experiments;

public enum ExperimentState
{
    /// <summary>Never started (or a fresh grain).</summary>
    Pending,
    Running,
    Completed,
    Failed,
    /// <summary>Stopped on request before the end (<c>IExperimentGrain.Stop</c>).</summary>
    Stopped,
    /// <summary>Paused on request (<c>IExperimentGrain.Pause</c>): no work runs, the learner keeps its model in
    /// memory, <c>Resume</c> continues from the same step. Last in the enum so that the serialized values of the
    /// others stay as they were.</summary>
    Paused,
}

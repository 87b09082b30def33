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
}

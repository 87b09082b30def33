namespace RlhfActors.Grains.Experiments;

/// <summary>Names of the grain storage providers the grains use; the silo registers them.</summary>
public static class GrainStorage
{
    /// <summary>Experiment controller state: memory storage in the embedded default, Redis on a cluster.</summary>
    public const string Experiments = "rlhf-experiments";
}

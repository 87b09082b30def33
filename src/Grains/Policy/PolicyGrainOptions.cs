namespace RlhfActors.Grains.Policy;

public sealed class PolicyGrainOptions
{
    public const string Section = "Rlhf:Policy";

    /// <summary>
    /// Versions kept in memory per experiment (1-64). Two lets a sampler still fetch the version before the newest while
    /// the learner publishes the next; every extra one costs a full copy of the weights.
    /// </summary>
    public int KeepVersions { get; set; } = 2;
}

namespace RlhfActors.Grains.Experiments;

/// <summary>How an experiment grain paces its loop (silo configuration, not part of an experiment's YAML).</summary>
public sealed class ExperimentDriverOptions
{
    public const string Section = "Rlhf:Experiments";

    /// <summary>
    /// Training steps per learner call. Status, ETA and the progress display move once per call, and each call must
    /// finish within <c>RlhfLimits.LongCallTimeout</c>: ten tiny-model steps take well under a second, ten steps of a
    /// large model on CPU may take minutes.
    /// </summary>
    public int StepsPerCall { get; set; } = 10;
}

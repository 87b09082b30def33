namespace RlhfActors.Training.Distillation;

/// <summary>Which divergence the student minimises (see <see cref="DistillationLoss"/>).</summary>
public enum DistillLoss { ReverseKl, Jsd }

/// <summary>The distillation update's settings (the config's <c>distill:</c> section, TRL GKDConfig names where TRL
/// has them; the section owns the defaults and their validation).</summary>
public sealed record DistillOptions
{
    public DistillLoss Loss { get; init; } = DistillLoss.ReverseKl;
    /// <summary>GKD's β (jsd only): 0 forward KL, 1 reverse KL.</summary>
    public double Beta { get; init; } = 0.5;
    /// <summary>Probability of a step on the student's own samples (the rest train on the dataset's completions).</summary>
    public double Lmbda { get; init; } = 1.0;
    /// <summary>Sampling temperature and the temperature of both models' log-probs.</summary>
    public double Temperature { get; init; } = 0.9;
    public int MaxNewTokens { get; init; } = 128;
    public int NumGenerations { get; init; } = 1;
    /// <summary>Teacher entries per position (jsd); 0 = the whole vocabulary.</summary>
    public int TopK { get; init; }
    public double WeightDecay { get; init; }
    public double MaxGradNorm { get; init; } = 1.0;
    public int MaxNonfiniteSteps { get; init; } = 3;
}

namespace RlhfActors.Training.Sft;

/// <summary>Supervised fine-tuning hyperparameters (one config per algorithm, as in TRL's SFTConfig).</summary>
public sealed record SftOptions
{
    public int Steps { get; init; } = 1000;
    public int BatchSize { get; init; } = 64;
    public double LearningRate { get; init; } = 1e-3;
    /// <summary>Cosine decay ends at LearningRate × this ratio.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;
    public int WarmupSteps { get; init; } = 50;
    public double WeightDecay { get; init; } = 0.1;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Updates with a non-finite loss or gradient norm that are skipped before the run fails (see
    /// <see cref="Optim.FiniteUpdates"/>); the experiment's <c>max_nonfinite_steps</c>.</summary>
    public int MaxNonfiniteSteps { get; init; } = 3;
    /// <summary>True: loss on completion tokens only (TRL's completion_only_loss). False: on every non-pad token.</summary>
    public bool CompletionOnlyLoss { get; init; } = true;
}

/// <summary>What one optimizer step reports.</summary>
public sealed record SftStepMetrics(int Step, double Loss, double LearningRate, double GradNorm, long Tokens, double Seconds);

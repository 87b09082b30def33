namespace RlhfActors.Training.RewardModeling;

/// <summary>Reward-model training hyperparameters, named after TRL's RewardConfig (one config per algorithm).</summary>
public sealed record RewardModelOptions
{
    public int Steps { get; init; } = 500;
    /// <summary>Pairs per step; each step scores 2 × BatchSize sequences.</summary>
    public int BatchSize { get; init; } = 32;
    public double LearningRate { get; init; } = 1e-4;
    public int WarmupSteps { get; init; } = 20;
    /// <summary>Cosine decay ends at LearningRate × this ratio.</summary>
    public double MinLearningRateRatio { get; init; } = 0.1;
    public double WeightDecay { get; init; } = 0.0;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.999;
    /// <summary>Global gradient-norm clip; 0 = no clipping.</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Updates with a non-finite loss or gradient norm that are skipped before the run fails (see
    /// <see cref="Optim.FiniteUpdates"/>); the experiment's <c>max_nonfinite_steps</c>.</summary>
    public int MaxNonfiniteSteps { get; init; } = 3;
    /// <summary>λ of the centering term λ·mean((r_c + r_r)²) (TRL's center_rewards_coefficient); 0 = off.</summary>
    public double CenterRewardsCoefficient { get; init; }

    /// <summary>Every out-of-range field, as "reward_model.&lt;field&gt; …" (config-file names); empty when valid.</summary>
    public IReadOnlyList<string> Errors()
    {
        var errors = new List<string>();
        void Require(bool ok, string field, object value, string range)
        {
            if (!ok) errors.Add($"reward_model.{field} must be {range} (got {value})");
        }
        Require(Steps >= 0, "steps", Steps, ">= 0 (0: a trained model, evaluated only)");
        Require(BatchSize > 0, "batch_size", BatchSize, "> 0");
        Require(LearningRate > 0 && double.IsFinite(LearningRate), "learning_rate", LearningRate, "> 0");
        Require(WarmupSteps >= 0, "warmup_steps", WarmupSteps, ">= 0");
        Require(MinLearningRateRatio is >= 0 and <= 1, "min_learning_rate_ratio", MinLearningRateRatio, "in [0, 1]");
        Require(WeightDecay >= 0 && double.IsFinite(WeightDecay), "weight_decay", WeightDecay, ">= 0");
        Require(Beta1 is >= 0 and < 1, "beta1", Beta1, "in [0, 1)");
        Require(Beta2 is >= 0 and < 1, "beta2", Beta2, "in [0, 1)");
        Require(MaxGradNorm >= 0 && double.IsFinite(MaxGradNorm), "max_grad_norm", MaxGradNorm, ">= 0");
        Require(CenterRewardsCoefficient >= 0 && double.IsFinite(CenterRewardsCoefficient), "center_rewards_coefficient", CenterRewardsCoefficient, ">= 0");
        return errors;
    }
}

/// <summary>What one reward-model step reports. GradNorm is the norm before clipping (NaN when clipping is off).</summary>
public sealed record RewardModelStepMetrics(int Step, double Loss, double Accuracy, double MeanMargin, double LearningRate, double GradNorm, double Seconds);

/// <summary>Held-out preference accuracy: the fraction of pairs whose chosen completion scores strictly higher, and the
/// mean score gap r_c − r_r.</summary>
public sealed record PreferenceAccuracy(int Pairs, int Correct, double Accuracy, double MeanMargin);

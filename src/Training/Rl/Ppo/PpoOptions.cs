namespace RlhfActors.Training.Rl.Ppo;

/// <summary>
/// PPO-with-a-critic hyperparameters. Snake-case names in messages are TRL's PPOConfig / OnPolicyConfig field names
/// (trl/trainer/ppo_config.py) where TRL has the field; each property says TRL's default and why ours differs.
/// </summary>
public sealed record PpoOptions
{
    /// <summary>γ, discount (TRL gamma: 1.0). An episode is one completion, so no discounting is needed.</summary>
    public double Gamma { get; init; } = 1.0;

    /// <summary>λ, GAE bias/variance trade-off (TRL lam: 0.95).</summary>
    public double Lambda { get; init; } = 0.95;

    /// <summary>ε, the policy ratio's clip range on both sides (TRL cliprange: 0.2).</summary>
    public double ClipRange { get; init; } = 0.2;

    /// <summary>ε_v, how far one update may move a value from the rollout's (TRL cliprange_value: 0.2).</summary>
    public double ClipRangeValue { get; init; } = 0.2;

    /// <summary>β, KL coefficient (TRL kl_coef: 0.05). 0 = no reference model is needed.</summary>
    public double Beta { get; init; } = 0.05;

    /// <summary>True: −β·KL per token in the reward (TRL's only mode; OpenRLHF's default). False: β·KL in the policy
    /// loss, GRPO-style (OpenRLHF use_kl_loss). TRL has no field.</summary>
    public bool KlInReward { get; init; } = true;

    /// <summary>KL estimator (TRL kl_estimator: "k1"). In the reward k1 is unbiased per sequence; k3 suits the loss.</summary>
    public KlEstimator KlEstimator { get; init; } = KlEstimator.K1;

    /// <summary>Whiten the GAE advantages over the batch's tokens (TRL always does; no field).</summary>
    public bool WhitenAdvantages { get; init; } = true;

    /// <summary>Whiten the per-token rewards (shift_mean false) before GAE (TRL whiten_rewards: false).</summary>
    public bool WhitenRewards { get; init; }

    /// <summary>Passes over each rollout batch (TRL num_ppo_epochs: 4).</summary>
    public int Epochs { get; init; } = 4;

    /// <summary>Minibatches per epoch, one optimizer step each (TRL num_mini_batches: 1).</summary>
    public int MiniBatches { get; init; } = 1;

    /// <summary>Completion length limit (TRL response_length: 53; ours matches GRPO's 256).</summary>
    public int MaxCompletionLength { get; init; } = 256;

    /// <summary>Sampling temperature, also used for every log-prob so ratios compare like with like (TRL
    /// temperature: 0.7).</summary>
    public double Temperature { get; init; } = 0.7;

    /// <summary>Policy learning rate (TRL learning_rate: 3e-6, for billion-parameter models; set it per task).</summary>
    public double LearningRate { get; init; } = 3e-6;

    /// <summary>Critic learning rate. TRL trains policy and value head as one model with one learning rate and a
    /// vf_coef; our critic is a separate model (and actor), so it gets its own rate instead. Same default.</summary>
    public double CriticLearningRate { get; init; } = 3e-6;

    /// <summary>Gradient-norm clip of each model's update, 0 = off (TRL max_grad_norm: 1.0).</summary>
    public double MaxGradNorm { get; init; } = 1.0;
    /// <summary>Updates with a non-finite loss or gradient norm that are skipped before the run fails (see
    /// <see cref="Optim.FiniteUpdates"/>); the experiment's <c>max_nonfinite_steps</c>.</summary>
    public int MaxNonfiniteSteps { get; init; } = 3;

    /// <summary>Every invalid field, one message each, naming the field: "ppo.cliprange must be in [0, 1) (got 2)".</summary>
    public IReadOnlyList<string> Errors()
    {
        var errors = new List<string>();
        void Check(bool ok, string field, string rule, object value)
        {
            if (!ok) errors.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"ppo.{field} {rule} (got {value})"));
        }
        static bool Finite(double x) => double.IsFinite(x);
        Check(Gamma is >= 0 and <= 1, "gamma", "must be in [0, 1]", Gamma);
        Check(Lambda is >= 0 and <= 1, "lam", "must be in [0, 1]", Lambda);
        Check(ClipRange is >= 0 and < 1, "cliprange", "must be in [0, 1)", ClipRange);
        Check(ClipRangeValue >= 0 && Finite(ClipRangeValue), "cliprange_value", "must be >= 0", ClipRangeValue);
        Check(Beta >= 0 && Finite(Beta), "kl_coef", "must be >= 0", Beta);
        Check(Enum.IsDefined(KlEstimator), "kl_estimator", "must be k1, k2 or k3", KlEstimator);
        Check(Epochs >= 1, "num_ppo_epochs", "must be >= 1", Epochs);
        Check(MiniBatches >= 1, "num_mini_batches", "must be >= 1", MiniBatches);
        Check(MaxCompletionLength >= 1, "max_completion_length", "must be >= 1", MaxCompletionLength);
        Check(Temperature > 0 && Finite(Temperature), "temperature", "must be > 0", Temperature);
        Check(LearningRate > 0 && Finite(LearningRate), "learning_rate", "must be > 0", LearningRate);
        Check(CriticLearningRate > 0 && Finite(CriticLearningRate), "critic_learning_rate", "must be > 0", CriticLearningRate);
        Check(MaxGradNorm >= 0 && Finite(MaxGradNorm), "max_grad_norm", "must be >= 0 (0 = off)", MaxGradNorm);
        return errors;
    }

    /// <summary>Throws <see cref="ArgumentException"/> listing every invalid field.</summary>
    public void Validate()
    {
        var errors = Errors();
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors));
    }
}

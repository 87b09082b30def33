using System.Diagnostics;
using System.Text.Json;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Model;
using RlhfActors.Training.Optim;
using RlhfActors.Training.Parallel;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Rollouts;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl.Ppo;

/// <summary>One PPO policy update, as measured. Loss, ClipFraction and GradNorm are means over the
/// <see cref="Updates"/> minibatch steps; MeanAdvantage is before whitening; MeanKl is the rollout's token-level
/// KL(π_old ‖ π_ref) (null without a reference).</summary>
public sealed record PpoStepMetrics(int Step, long PolicyVersion, double Loss, double MeanScore, double? MeanKl,
    double ClipFraction, double MeanAdvantage, double MeanReturn, double GradNorm, int Sequences, long CompletionTokens,
    double Seconds)
{
    /// <summary>Optimizer steps taken: num_ppo_epochs × num_mini_batches.</summary>
    public int Updates { get; init; }
}

/// <summary>The metrics and the per-row GAE returns R_t (one float per completion token), which are the critic's
/// regression targets: they go to <see cref="CriticLearner.Step"/> with the same old values.</summary>
public sealed record PpoStepResult(PpoStepMetrics Metrics, float[][] Returns);

/// <summary>
/// The policy half of PPO-RLHF (CleanRL-style: the algorithm is <see cref="Step"/>). The critic is a separate model
/// (<see cref="CriticLearner"/>, possibly another actor), so its values arrive as per-row arrays and the returns
/// leave as per-row arrays. One step:
/// 1. old log-probs log π_old of the batch from a fresh no-grad forward (as TRL: the sampler's behaviour log-probs
///    can differ numerically, and the ratio must start at exactly 1);
/// 2. reference log-probs: per-row arrays from elsewhere (a reference actor), or under LoRA the policy with its
///    adapters off; needed only when β &gt; 0;
/// 3. per-token rewards (<see cref="PpoRewards"/>: score at the last token, −β·KL per token when in the reward),
///    optionally whitened; GAE with the critic's V_old → advantages and returns; advantages whitened;
/// 4. num_ppo_epochs passes over num_mini_batches shuffled minibatches (<see cref="MiniBatchPlan"/>), each:
///    current log-probs → clipped surrogate with per-token advantages (<see cref="PolicyLoss"/>, + β·KL when the KL
///    is in the loss) → backward → clip → AdamW.
/// Not thread-safe: one device worker thread calls it.
/// </summary>
public sealed class PpoPolicyLearner : IDisposable
{
    readonly DecoderModel policy;
    readonly AdamW optimizer;
    readonly PpoOptions options;
    readonly FiniteUpdates finite;
    readonly int padId;

    public PpoPolicyLearner(DecoderModel policy, PpoOptions options, int padId, double weightDecay = 0.0, long initialVersion = 0)
    {
        options.Validate();
        this.policy = policy;
        this.options = options;
        this.padId = padId;
        optimizer = new AdamW(policy.TrainableParameters(), beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: weightDecay);
        finite = new FiniteUpdates(options.MaxNonfiniteSteps, "ppo");
        PolicyVersion = initialVersion;
    }

    public DecoderModel Policy => policy;
    public PpoOptions Options => options;
    public int StepsDone { get; private set; }
    /// <summary>Bumped by every update.</summary>
    public long PolicyVersion { get; private set; }
    /// <summary>AdamW steps taken so far (epochs × minibatches per PPO step).</summary>
    public long OptimizerSteps => optimizer.StepCount;

    /// <param name="scores">One sequence score per completion.</param>
    /// <param name="oldValues">The critic's V(s_t) per completion token (<see cref="CriticLearner.Values"/>).</param>
    /// <param name="referenceLogProbs">Per-row reference log-probs (<see cref="GrpoLearner.RowLogProbs"/> of the
    /// reference model); null under LoRA (adapters off) or when β = 0.</param>
    /// <param name="group">A data-parallel group this learner is one rank of (null: alone). Every rank is given the
    /// whole batch and repeats the no-grad pass over it (old log-probs, rewards, GAE and the whitening, whose
    /// statistics are the whole batch's), then trains on its rows of each minibatch with the minibatch's token count
    /// as the normaliser, and the group sums the gradients before the clip.</param>
    public PpoStepResult Step(RolloutBatch batch, IReadOnlyList<double> scores, IReadOnlyList<float[]> oldValues,
        IReadOnlyList<float[]>? referenceLogProbs, double learningRate, IGradientReducer? group = null)
    {
        if (scores.Count != batch.Count) throw new ArgumentException($"{scores.Count} scores for {batch.Count} completions");
        if (batch.PolicyVersion > PolicyVersion) throw new ArgumentException("rollout comes from a newer policy than the learner's");
        PerTokenRows.CheckLengths(oldValues, batch.CompletionIds, "value");
        if (referenceLogProbs is not null) PerTokenRows.CheckLengths(referenceLogProbs, batch.CompletionIds, "reference log-prob");
        if (options.Beta > 0 && referenceLogProbs is null && policy.Lora is null)
            throw new ArgumentException("ppo.kl_coef > 0 needs precomputed reference log-probs or LoRA adapters to switch off");
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        policy.train();
        var device = policy.parameters().First().device;
        long width = Math.Max(1, batch.CompletionIds.Max(c => c.Length));
        bool klInLoss = options.Beta > 0 && !options.KlInReward;

        Tensor oldLogp, mask, advantages, returns;
        Tensor? refLogp = null;
        PpoRewardsOutput rewards;
        double meanAdvantage, meanReturn;
        using (no_grad())
        {
            (oldLogp, mask) = CompletionLogProbs.Compute(policy, batch.PromptIds, batch.CompletionIds, options.Temperature, padId);
            if (referenceLogProbs is not null) refLogp = PerTokenRows.RightPadded(referenceLogProbs, width, device);
            else if (options.Beta > 0)
                // Under LoRA the reference is the frozen base: the same model with its adapters off.
                refLogp = Lora.WithAdaptersOff(policy, () =>
                    CompletionLogProbs.Compute(policy, batch.PromptIds, batch.CompletionIds, options.Temperature, padId).LogProbs);
            var values = PerTokenRows.RightPadded(oldValues, width, device) * mask;
            var scoreTensor = tensor(scores.Select(s => (float)s).ToArray(), device: device);
            rewards = PpoRewards.Compute(scoreTensor, oldLogp, refLogp, mask, options.Beta, options.KlEstimator, options.KlInReward);
            var perToken = options.WhitenRewards ? Whitening.Whiten(rewards.Rewards, mask, shiftMean: false) : rewards.Rewards;
            (advantages, returns) = Gae.Compute(perToken, values, mask, options.Gamma, options.Lambda);
            meanAdvantage = Whitening.MaskedMean(advantages, mask).ToDouble();
            meanReturn = Whitening.MaskedMean(returns, mask).ToDouble();
            if (options.WhitenAdvantages) advantages = Whitening.Whiten(advantages, mask);
        }

        var plan = MiniBatchPlan.Rows(batch.Count, options.Epochs, options.MiniBatches, StepsDone);
        var shard = group?.Shard ?? DataShard.Whole;
        var trainable = policy.TrainableParameters().Select(p => p.Param).ToArray();
        double lossSum = 0, clipSum = 0, normSum = 0;
        foreach (var minibatch in plan)
        {
            using var miniScope = NewDisposeScope();
            // A rank's rows of the minibatch, and the minibatch's tokens: TRL's masked mean is over the minibatch.
            var rows = shard.Slice(minibatch);
            var global = shard.IsWhole ? null : new GlobalBatch(minibatch.Length, minibatch.Sum(r => (double)batch.CompletionIds[r].Length));
            var (logp, miniMask) = CompletionLogProbs.Compute(policy, rows.Select(r => batch.PromptIds[r]).ToArray(),
                rows.Select(r => batch.CompletionIds[r]).ToArray(), options.Temperature, padId);
            // The minibatch is as wide as its own longest completion: take its rows, then its columns.
            var index = tensor(rows.Select(r => (long)r).ToArray(), device: device);
            Tensor Pick(Tensor t) => t.index_select(0, index).narrow(1, 0, logp.shape[1]);
            var output = PolicyLoss.Compute(new PolicyLossInputs(logp, Pick(oldLogp), Pick(advantages), miniMask)
            {
                RefLogp = klInLoss ? Pick(refLogp!) : null,
                EpsilonLow = options.ClipRange,
                EpsilonHigh = options.ClipRange,
                Beta = klInLoss ? options.Beta : 0,
                KlEstimator = options.KlEstimator,
                // TRL's PPO: masked mean over the minibatch's tokens.
                Aggregation = LossAggregation.Dapo,
                Global = global,
            });
            optimizer.ZeroGrad();
            output.Loss.backward();
            // The clip fraction is a mean over this rank's tokens: weighted by its share of the minibatch's tokens,
            // the ranks' sum is the minibatch's.
            double share = global is null ? 1 : miniMask.sum().ToDouble() / Math.Max(1.0, global.Tokens);
            var summed = GradientBuffer.SumOverGroup(group, trainable, output.Loss.ToDouble(), output.ClipFraction * share);
            var norm = FiniteUpdates.ClipGradients(trainable, options.MaxGradNorm);
            normSum += norm;
            if (finite.Admit(summed[0], norm, StepsDone + 1)) optimizer.Step(learningRate);
            lossSum += summed[0];
            clipSum += summed[1];
        }
        StepsDone++;
        PolicyVersion++;
        var metrics = new PpoStepMetrics(StepsDone, PolicyVersion, lossSum / plan.Count, scores.Average(), rewards.MeanKl,
            clipSum / plan.Count, meanAdvantage, meanReturn, normSum / plan.Count, batch.Count,
            (long)mask.sum().ToDouble(), clock.Elapsed.TotalSeconds) { Updates = plan.Count };
        return new PpoStepResult(metrics, PerTokenRows.Rows(returns, batch.CompletionIds.Select(c => c.Length).ToArray()));
    }

    /// <summary>The policy (HF folder), this optimizer's moments and the PPO position, verified like an SFT checkpoint.
    /// Full fine-tuning: PPO refuses PEFT.</summary>
    public CheckpointInfo SaveCheckpoint(string directory, int globalStep, int seed, IReadOnlyDictionary<string, string> provenance,
        IReadOnlyDictionary<string, byte[]> extraFiles)
    {
        var state = new PpoTrainerState("ppo", globalStep, StepsDone, seed, optimizer.StepCount);
        return CheckpointWriter.Write(directory, policy.Config, ModelFactory.ExportWeights(policy), optimizer.ExportState(),
            JsonSerializer.Serialize(state), globalStep, provenance, extraFiles: extraFiles);
    }

    /// <summary>Restores this optimizer's moments and the PPO position (the weights are loaded by the model's owner).</summary>
    public void LoadState(LoadedCheckpoint checkpoint, string directory, int seed)
    {
        var state = StageState.Read<PpoTrainerState>(checkpoint, directory, "ppo", seed, s => s.Stage, s => s.Seed);
        optimizer.LoadState(checkpoint.OptimizerState, state.OptimizerSteps, directory);
        StepsDone = state.PpoSteps;
    }

    /// <summary>The unchanged weights were published again as <paramref name="version"/> (the registry had lost them).</summary>
    public void Republished(long version)
    {
        if (version < PolicyVersion) throw new ArgumentOutOfRangeException(nameof(version), version, $"older than the learner's version {PolicyVersion}");
        PolicyVersion = version;
    }

    sealed record PpoTrainerState(string Stage, int Step, int PpoSteps, int Seed, long OptimizerSteps);

    public void Dispose() => optimizer.Dispose();
}

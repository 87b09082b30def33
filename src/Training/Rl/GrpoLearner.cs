using System.Diagnostics;
using System.Text.Json;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Metrics;
using RlhfActors.Training.Model;
using RlhfActors.Training.Optim;
using RlhfActors.Training.Parallel;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Weights;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl;

/// <summary>One GRPO update, as measured. <see cref="Dropped"/>: the batch was older than max_staleness and dropped
/// (no update, version unchanged).</summary>
public sealed record GrpoStepMetrics(int Step, long PolicyVersion, double Loss, double MeanReward, double? MeanKl,
    double ClipFraction, double GradNorm, int Sequences, long CompletionTokens, double Seconds)
{
    /// <summary>Learner version minus the batch's version when it arrived (0 = on-policy).</summary>
    public long Staleness { get; init; }
    public bool Dropped { get; init; }
    /// <summary>Trained with truncated importance weights (a stale batch in truncated_is mode).</summary>
    public bool ImportanceCorrected { get; init; }
    /// <summary>The sampler–learner mismatch as the correction measured it; null when the correction is off.</summary>
    public MismatchFigures? Mismatch { get; init; }
    /// <summary>Share of sequences off-policy sequence masking left out (last pass); null when it is off.</summary>
    public double? OffPolicyMaskedFraction { get; init; }

    /// <summary>The two figures above by their metrics.jsonl names (TRL's where TRL logs them); empty when both are off.
    /// What travels to the controller, as a DPO step's <c>Logged</c> does.</summary>
    public IReadOnlyDictionary<string, double> Logged
    {
        get
        {
            var logged = new Dictionary<string, double>(StringComparer.Ordinal);
            if (Mismatch is { } m)
            {
                logged[MetricNames.SamplingLogpDifferenceMean] = m.MeanAbsLogpDiff;
                logged[MetricNames.SamplingLogpDifferenceMax] = m.MaxAbsLogpDiff;
                logged[MetricNames.SamplingKl] = m.Kl;
                logged[MetricNames.SamplingCorrectedFraction] = m.CorrectedFraction;
                logged[MetricNames.SamplingImportanceRatioMean] = m.MeanRatio;
            }
            if (OffPolicyMaskedFraction is { } masked) logged[MetricNames.OffPolicyMaskedFraction] = masked;
            return logged;
        }
    }
}

/// <summary>
/// One GRPO update per rollout batch (CleanRL-style: the whole algorithm is this method).
/// 0. Staleness: a batch more than max_staleness versions old is dropped in "drop" mode, never trained on.
/// 1. Advantages from the rewards (group-relative, Dr. GRPO, RLOO or REINFORCE++).
/// 2. Old log-probs: the policy before this update (μ &gt; 1, a stale batch, or the mismatch correction) or the
///    detached current ones (μ = 1, ratio ≡ 1 at the first pass, as TRL). With the mismatch correction the samplers'
///    behaviour log-probs are compared with them and the surrogate re-weighted (<see cref="SamplerMismatch"/>);
///    without it, in truncated_is mode a stale batch gets weights min(π_old/μ_b, C).
/// 3. Reference log-probs (only when β &gt; 0): from the frozen reference model, or precomputed by the caller (the
///    grain pipeline's ReferenceGrain).
/// 4. μ passes of: completion log-probs → (off-policy sequence mask) → clipped surrogate or CISPO, token or sequence
///    (GSPO) ratios + β·KL, aggregated → backward → clip → AdamW.
/// Not thread-safe: one device worker thread calls it.
/// </summary>
public sealed class GrpoLearner : IDisposable
{
    readonly DecoderModel policy;
    readonly DecoderModel? reference;
    readonly AdamW optimizer;
    readonly GrpoOptions options;
    readonly FiniteUpdates finite;
    readonly double maxGradNorm;
    readonly int padId;

    public GrpoLearner(DecoderModel policy, DecoderModel? reference, GrpoOptions options, int padId,
        double weightDecay = 0.0, double maxGradNorm = 1.0, long initialVersion = 0)
    {
        options.Validate();
        this.policy = policy;
        this.reference = reference;
        this.options = options;
        this.maxGradNorm = maxGradNorm;
        this.padId = padId;
        optimizer = new AdamW(policy.TrainableParameters(), beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: weightDecay);
        finite = new FiniteUpdates(options.MaxNonfiniteSteps, "grpo");
        PolicyVersion = initialVersion;
    }

    public DecoderModel Policy => policy;
    public GrpoOptions Options => options;
    public int StepsDone { get; private set; }
    /// <summary>Bumped by every update: the version a rollout must be compared with for staleness.</summary>
    public long PolicyVersion { get; private set; }

    /// <param name="referenceLogProbs">Per-row reference log-probs of the completion tokens, when the reference lives
    /// elsewhere; null to use the reference model given at construction. Only read when β &gt; 0.</param>
    /// <param name="group">A data-parallel group this learner is one rank of (null: alone). Every rank is given the
    /// whole batch: advantages need whole groups, so they are computed over it, then the rank trains on its rows with
    /// the whole batch's normalisers (<see cref="GlobalBatch"/>) and the group sums the gradients before the clip.</param>
    /// <param name="rewardComponents">Each reward term's unweighted scores [K][B], in the order of
    /// <see cref="GrpoOptions.RewardWeights"/>: read only under multi_objective_aggregation normalize_then_sum.</param>
    public GrpoStepMetrics Step(RolloutBatch batch, IReadOnlyList<double> rewards, double learningRate,
        IReadOnlyList<float[]>? referenceLogProbs = null, IGradientReducer? group = null, IReadOnlyList<double[]>? rewardComponents = null)
    {
        if (rewards.Count != batch.Count) throw new ArgumentException($"{rewards.Count} rewards for {batch.Count} completions");
        if (rewardComponents is not null && rewardComponents.Any(c => c.Length != batch.Count))
            throw new ArgumentException($"every reward term needs {batch.Count} scores, one per completion");
        if (batch.PolicyVersion > PolicyVersion) throw new ArgumentException("rollout comes from a newer policy than the learner's");
        if (options.Beta > 0 && reference is null && referenceLogProbs is null && policy.Lora is null)
            throw new ArgumentException("grpo.beta > 0 needs a reference model, precomputed reference log-probs, or LoRA adapters to switch off");
        if (referenceLogProbs is not null && referenceLogProbs.Count != batch.Count)
            throw new ArgumentException($"{referenceLogProbs.Count} reference rows for {batch.Count} completions");
        var clock = Stopwatch.StartNew();
        long staleness = PolicyVersion - batch.PolicyVersion;
        if (staleness > options.MaxStaleness && options.StaleMode == StaleRolloutMode.Drop)
            return new GrpoStepMetrics(StepsDone, PolicyVersion, double.NaN, rewards.Average(), null, 0, double.NaN,
                batch.Count, 0, clock.Elapsed.TotalSeconds) { Staleness = staleness, Dropped = true };
        // The mismatch correction, when on, covers staleness too: the behaviour log-probs it compares with are those
        // of whatever version sampled the batch.
        bool correct = staleness > 0 && options.StaleMode == StaleRolloutMode.TruncatedIs && !options.MismatchCorrection;

        using var scope = NewDisposeScope();
        policy.train();
        var advantages = RewardAdvantages(rewards, rewardComponents, batch.GroupSize);
        // A rank of a group: its rows of everything per-row, the whole batch's normalisers.
        var shard = group?.Shard ?? DataShard.Whole;
        GlobalBatch? global = null;
        if (!shard.IsWhole)
        {
            var (start, count) = shard.Rows(batch.Count);
            var rows = Enumerable.Range(start, count).ToArray();
            global = new GlobalBatch(batch.Count, MaskedTokens(batch));
            advantages = advantages.narrow(0, start, count);
            referenceLogProbs = referenceLogProbs is null ? null : rows.Select(r => referenceLogProbs[r]).ToArray();
            batch = batch.Select(rows);
        }
        var truncated = tensor(batch.Truncated.ToArray());

        Tensor? oldLogp = null, refLogp = null, isWeights = null, behaviour = null;
        MismatchFigures? mismatch = null;
        using (no_grad())
        {
            if (options.NumIterations > 1 || staleness > 0 || options.MismatchCorrection)
            {
                var (old, oldMask) = CompletionLogProbs.Compute(policy, batch.PromptIds, batch.CompletionIds, options.Temperature, padId);
                oldLogp = old;
                if (options.MismatchCorrection)
                {
                    var corrected = SamplerMismatch.Correct(RightPadded(batch.BehaviourLogProbs, old.shape[1]), old, oldMask,
                        options.MismatchMode, options.MismatchClipMin, options.MismatchClipMax);
                    (isWeights, mismatch) = (corrected.Weights, corrected.Figures);
                }
            }
            if (options.OffPolicyMaskThreshold is not null) behaviour = RightPadded(batch.BehaviourLogProbs, CompletionWidth(batch));
            if (options.Beta > 0)
                refLogp = referenceLogProbs is not null
                    ? RightPadded(referenceLogProbs, CompletionWidth(batch))
                    : reference is not null
                        ? CompletionLogProbs.Compute(reference, batch.PromptIds, batch.CompletionIds, options.Temperature, padId).LogProbs
                        // Under LoRA the reference is the frozen base: the same model with its adapters off.
                        : Lora.WithAdaptersOff(policy, () => CompletionLogProbs.Compute(policy, batch.PromptIds, batch.CompletionIds, options.Temperature, padId).LogProbs);
            if (correct)
                isWeights = ImportanceCorrection.TruncatedIs(RightPadded(batch.BehaviourLogProbs, oldLogp!.shape[1]), oldLogp!, options.IsCap);
        }

        var trainable = policy.TrainableParameters().Select(p => p.Param).ToArray();
        double loss = double.NaN, gradNorm = 0, tokens = 0, clipFraction = 0;
        double? meanKl = null, maskedFraction = null;
        for (int pass = 0; pass < options.NumIterations; pass++)
        {
            using var passScope = NewDisposeScope();
            var (logp, mask) = CompletionLogProbs.Compute(policy, batch.PromptIds, batch.CompletionIds, options.Temperature, padId);
            if (options.MaskTruncated) mask = OverlongShaping.MaskTruncated(mask, truncated);
            var keep = options.OffPolicyMaskThreshold is { } delta
                ? OffPolicySequenceMask.Compute(advantages, logp, behaviour!, mask, delta)
                : null;
            if (keep is not null) maskedFraction = 1 - keep.mean().ToDouble();
            var output = PolicyLoss.Compute(new PolicyLossInputs(logp, oldLogp, advantages, mask)
            {
                Level = options.ImportanceSamplingLevel,
                Objective = options.Objective,
                CispoCap = options.CispoCap,
                SequenceMask = keep,
                RefLogp = refLogp,
                EpsilonLow = options.EpsilonLow,
                EpsilonHigh = options.EpsilonHigh,
                Beta = options.Beta,
                KlEstimator = options.KlEstimator,
                Aggregation = options.Aggregation,
                MaxCompletionLength = options.MaxCompletionLength,
                IsWeights = isWeights,
                Global = global,
            });
            optimizer.ZeroGrad();
            output.Loss.backward();
            // The metrics are token means over this rank's tokens: weighted by its share of the batch's tokens, their
            // sum over the ranks is the batch's mean.
            double localTokens = mask.sum().ToDouble();
            double share = global is null ? 1 : localTokens / Math.Max(1.0, global.Tokens);
            var summed = GradientBuffer.SumOverGroup(group, trainable,
                output.Loss.ToDouble(), localTokens, output.ClipFraction * share, (output.MeanKl ?? 0) * share);
            (loss, tokens, clipFraction) = (summed[0], summed[1], summed[2]);
            meanKl = output.MeanKl is null ? null : summed[3];
            gradNorm = FiniteUpdates.ClipGradients(trainable, maxGradNorm);
            if (finite.Admit(loss, gradNorm, StepsDone + 1)) optimizer.Step(learningRate);
        }
        StepsDone++;
        PolicyVersion++;
        return new GrpoStepMetrics(StepsDone, PolicyVersion, loss, rewards.Average(), meanKl,
            clipFraction, gradNorm, rewards.Count, (long)tokens, clock.Elapsed.TotalSeconds)
        {
            Staleness = staleness,
            ImportanceCorrected = correct,
            Mismatch = mismatch,
            OffPolicyMaskedFraction = maskedFraction,
        };
    }

    /// <summary>Advantages [B] of the step's rows (all of the batch: groups must be whole). With
    /// normalize_then_sum and the terms given, GDPO's <see cref="Advantages.NormalizeThenSum"/>; otherwise the
    /// estimator on the weighted total.</summary>
    Tensor RewardAdvantages(IReadOnlyList<double> rewards, IReadOnlyList<double[]>? components, int groupSize)
    {
        if (options.MultiObjectiveAggregation == MultiObjectiveAggregation.NormalizeThenSum)
        {
            if (components is null || components.Count != options.RewardWeights.Count)
                throw new ArgumentException($"multi_objective_aggregation normalize_then_sum needs the scores of each of the " +
                    $"{options.RewardWeights.Count} reward terms (got {components?.Count ?? 0})");
            var table = tensor(Enumerable.Range(0, rewards.Count)
                .SelectMany(b => components.Select(c => (float)c[b])).ToArray(), rewards.Count, components.Count);
            return Advantages.NormalizeThenSum(table, options.RewardWeights, groupSize);
        }
        var rewardTensor = tensor(rewards.Select(r => (float)r).ToArray());
        return Advantages.Compute(rewardTensor, options with { NumGenerations = groupSize });
    }

    /// <summary>Σ of the completion mask the update trains on (truncated completions excluded under mask_truncated),
    /// from the token counts alone: a rank's DAPO normaliser is the whole batch's.</summary>
    double MaskedTokens(RolloutBatch batch) =>
        Enumerable.Range(0, batch.Count).Sum(b => options.MaskTruncated && batch.Truncated[b] ? 0.0 : batch.CompletionIds[b].Length);

    /// <summary>Per-row completion log-probs of the reference model, for a learner elsewhere (ReferenceGrain).</summary>
    public static float[][] RowLogProbs(DecoderModel model, RolloutBatch batch, double temperature, int padId)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logp = CompletionLogProbs.Compute(model, batch.PromptIds, batch.CompletionIds, temperature, padId).LogProbs
            .to(ScalarType.Float32).cpu();
        var flat = logp.data<float>().ToArray();
        long width = logp.shape[1];
        return Enumerable.Range(0, batch.Count)
            .Select(b => flat.AsSpan((int)(b * width), batch.CompletionIds[b].Length).ToArray())
            .ToArray();
    }

    static long CompletionWidth(RolloutBatch batch) => Math.Max(1, batch.CompletionIds.Max(c => c.Length));

    /// <summary>Per-row values as a right-padded [B, width] tensor on the policy's device.</summary>
    Tensor RightPadded(IReadOnlyList<float[]> rows, long width) =>
        PerTokenRows.RightPadded(rows, width, policy.parameters().First().device);

    /// <summary>Weights (HF folder), this optimizer's moments and the GRPO position, verified like an SFT checkpoint.
    /// Under LoRA the weights are the policy (adapters merged: the base alone is the reference, not what was trained)
    /// and the adapter goes to <c>adapter/</c> with base_model_name_or_path <paramref name="baseModelPath"/>.</summary>
    public CheckpointInfo SaveCheckpoint(string directory, int globalStep, int seed, IReadOnlyDictionary<string, string> provenance,
        IReadOnlyDictionary<string, byte[]> extraFiles, string? baseModelPath = null)
    {
        var state = new GrpoTrainerState("grpo", globalStep, StepsDone, PolicyVersion, seed, optimizer.StepCount);
        var lora = policy.Lora;
        var weights = lora is null ? ModelFactory.ExportWeights(policy) : Lora.ExportMerged(policy);
        return CheckpointWriter.Write(directory, policy.Config, weights, optimizer.ExportState(),
            JsonSerializer.Serialize(state), globalStep, provenance, extraFiles: extraFiles,
            adapter: lora is null ? null : new PeftAdapter(lora, Lora.ExportAdapter(policy), baseModelPath));
    }

    /// <summary>The unchanged weights were published again as <paramref name="version"/> (the registry had lost
    /// them): rollouts sampled from it are on-policy.</summary>
    public void Republished(long version)
    {
        if (version < PolicyVersion) throw new ArgumentOutOfRangeException(nameof(version), version, $"older than the learner's version {PolicyVersion}");
        PolicyVersion = version;
    }

    /// <summary>Restores this optimizer's moments and the GRPO position from <paramref name="checkpoint"/> (the
    /// policy's weights are loaded by the owner of the model).</summary>
    public void LoadState(LoadedCheckpoint checkpoint, string directory, int seed)
    {
        var state = StageState.Read<GrpoTrainerState>(checkpoint, directory, "grpo", seed, s => s.Stage, s => s.Seed);
        optimizer.LoadState(checkpoint.OptimizerState, state.OptimizerSteps, directory);
        StepsDone = state.GrpoSteps;
    }

    sealed record GrpoTrainerState(string Stage, int Step, int GrpoSteps, long PolicyVersion, int Seed, long OptimizerSteps);

    public void Dispose() => optimizer.Dispose();
}

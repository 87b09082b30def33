using System.Diagnostics;
using RlhfActors.Training.Model;
using RlhfActors.Training.Optim;
using RlhfActors.Training.Rollouts;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl;

public sealed record GrpoStepMetrics(int Step, long PolicyVersion, double Loss, double MeanReward, double? MeanKl,
    double ClipFraction, double GradNorm, int Sequences, long CompletionTokens, double Seconds);

/// <summary>
/// One GRPO update per rollout batch (CleanRL-style: the whole algorithm is this method).
/// 1. Advantages from the rewards (group-relative, Dr. GRPO, RLOO or REINFORCE++).
/// 2. Old log-probs: the policy before this update (μ &gt; 1) or the detached current ones (μ = 1, ratio ≡ 1 at the
///    first pass, as TRL). Rollouts from an older policy version get truncated importance weights min(π_old/μ_b, C).
/// 3. Reference log-probs from the frozen reference (only when β &gt; 0).
/// 4. μ passes of: completion log-probs → clipped surrogate + β·KL, aggregated → backward → clip → AdamW.
/// Not thread-safe: one device worker thread calls it.
/// </summary>
public sealed class GrpoLearner : IDisposable
{
    readonly DecoderModel policy;
    readonly DecoderModel? reference;
    readonly AdamW optimizer;
    readonly GrpoOptions options;
    readonly double maxGradNorm;
    readonly int padId;

    public GrpoLearner(DecoderModel policy, DecoderModel? reference, GrpoOptions options, int padId,
        double weightDecay = 0.0, double maxGradNorm = 1.0, long initialVersion = 0)
    {
        options.Validate();
        if (options.Beta > 0 && reference is null)
            throw new ArgumentException("grpo.beta > 0 needs a reference model");
        this.policy = policy;
        this.reference = reference;
        this.options = options;
        this.maxGradNorm = maxGradNorm;
        this.padId = padId;
        optimizer = new AdamW(policy.named_parameters(), beta1: 0.9, beta2: 0.99, eps: 1e-8, weightDecay: weightDecay);
        PolicyVersion = initialVersion;
    }

    public DecoderModel Policy => policy;
    public int StepsDone { get; private set; }
    /// <summary>Bumped by every update: the version a rollout must be compared with for staleness.</summary>
    public long PolicyVersion { get; private set; }

    public GrpoStepMetrics Step(RolloutBatch batch, IReadOnlyList<double> rewards, double learningRate)
    {
        if (rewards.Count != batch.Count) throw new ArgumentException($"{rewards.Count} rewards for {batch.Count} completions");
        if (batch.PolicyVersion > PolicyVersion) throw new ArgumentException("rollout comes from a newer policy than the learner's");
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        policy.train();

        var rewardTensor = tensor(rewards.Select(r => (float)r).ToArray());
        var advantages = Advantages.Compute(rewardTensor, options with { NumGenerations = batch.GroupSize });
        var truncated = tensor(batch.Truncated.ToArray());

        Tensor? oldLogp = null, refLogp = null, isWeights = null;
        using (no_grad())
        {
            if (options.NumIterations > 1 || batch.PolicyVersion < PolicyVersion)
                oldLogp = CompletionLogProbs.Compute(policy, batch.PromptIds, batch.CompletionIds, options.Temperature, padId).LogProbs;
            if (options.Beta > 0)
                refLogp = CompletionLogProbs.Compute(reference!, batch.PromptIds, batch.CompletionIds, options.Temperature, padId).LogProbs;
            if (batch.PolicyVersion < PolicyVersion && options.StaleMode == StaleRolloutMode.TruncatedIs)
                isWeights = ImportanceCorrection.TruncatedIs(Behaviour(batch, oldLogp!.shape[1]), oldLogp!, options.IsCap);
        }

        PolicyLossOutput last = null!;
        double gradNorm = 0;
        long tokens = 0;
        for (int pass = 0; pass < options.NumIterations; pass++)
        {
            using var passScope = NewDisposeScope();
            var (logp, mask) = CompletionLogProbs.Compute(policy, batch.PromptIds, batch.CompletionIds, options.Temperature, padId);
            if (options.MaskTruncated) mask = OverlongShaping.MaskTruncated(mask, truncated);
            tokens = (long)mask.sum().item<float>();
            last = PolicyLoss.Compute(new PolicyLossInputs(logp, oldLogp, advantages, mask)
            {
                RefLogp = refLogp,
                EpsilonLow = options.EpsilonLow,
                EpsilonHigh = options.EpsilonHigh,
                Beta = options.Beta,
                KlEstimator = options.KlEstimator,
                Aggregation = options.Aggregation,
                MaxCompletionLength = options.MaxCompletionLength,
                IsWeights = isWeights,
            });
            optimizer.ZeroGrad();
            last.Loss.backward();
            gradNorm = maxGradNorm > 0 ? nn.utils.clip_grad_norm_(policy.parameters(), maxGradNorm) : double.NaN;
            optimizer.Step(learningRate);
            last = last with { Loss = last.Loss.detach().MoveToOuterDisposeScope() };
        }
        StepsDone++;
        PolicyVersion++;
        return new GrpoStepMetrics(StepsDone, PolicyVersion, last.Loss.item<float>(), rewards.Average(), last.MeanKl,
            last.ClipFraction, gradNorm, batch.Count, tokens, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The sampler's behaviour log-probs as a right-padded [B, T] tensor.</summary>
    static Tensor Behaviour(RolloutBatch batch, long width)
    {
        var data = new float[batch.Count * width];
        for (int b = 0; b < batch.Count; b++)
            for (int j = 0; j < batch.BehaviourLogProbs[b].Length; j++) data[b * width + j] = batch.BehaviourLogProbs[b][j];
        return tensor(data, new long[] { batch.Count, width });
    }

    public void Dispose() => optimizer.Dispose();
}

using System.Diagnostics;
using System.Text.Json;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Optim;
using RlhfActors.Training.Parallel;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Preference;

/// <summary>One DPO update, as measured: TRL's logged loss and rewards/* metrics, the pre-clip gradient norm.</summary>
public sealed record DpoStepMetrics(int Step, double Loss, double RewardsChosen, double RewardsRejected, double Margin,
    double Accuracy, double GradNorm, int Pairs, double Seconds)
{
    /// <summary>The variant's own figures under TRL's names (<see cref="DpoLossOutput.Logged"/>), and nll_loss where
    /// the loss holds the chosen NLL (ORPO, RPO).</summary>
    public IReadOnlyDictionary<string, double> Logged { get; init; } = new Dictionary<string, double>();
}

/// <summary>Held-out preference metrics: share of pairs whose chosen completion gets the larger implicit reward, and
/// the mean reward margin (chosen − rejected), with the loss variant's own reward definition.</summary>
public sealed record PreferenceEval(double Accuracy, double Margin, int Pairs);

/// <summary>
/// Offline preference optimisation of one policy (DPO, IPO, robust DPO, SimPO, ORPO, KTO): per batch of pairs,
/// 1. reference sequence log-probs, in this order of preference: given by the caller (computed elsewhere, e.g. a
///    reference grain or a <see cref="ReferenceLogProbCache"/>), from the frozen reference model, or under LoRA from
///    the policy itself with its adapters off (the frozen base is the reference). SimPO and ORPO need none.
/// 2. policy log-probs of chosen and rejected (one forward, 2B rows) → <see cref="DpoLoss"/> (+ α·NLL of chosen when
///    rpo_alpha &gt; 0; ORPO's NLL at weight 1) → backward → clip → AdamW at the caller's learning rate (the schedule
///    lives with the caller). KTO's rows are (prompt, completion, KL completion) with a label each
///    (<see cref="KtoBatch.Rows"/>), and its loss is <see cref="KtoLoss"/>.
/// Not thread-safe: one device worker thread calls it.
/// </summary>
public sealed class DpoLearner : IDisposable
{
    const int EvalBatchSize = 64;

    readonly DecoderModel policy;
    readonly DecoderModel? reference;
    readonly ITokenizer tokenizer;
    readonly FiniteUpdates finite;
    readonly DpoOptions options;
    readonly AdamW optimizer;

    public DpoLearner(DecoderModel policy, DecoderModel? reference, ITokenizer tokenizer, DpoOptions options)
    {
        options.Validate();
        this.policy = policy;
        this.reference = reference;
        this.tokenizer = tokenizer;
        this.options = options;
        // TRL's (HF Trainer's) AdamW defaults: β₁ 0.9, β₂ 0.999, ε 1e-8.
        optimizer = new AdamW(policy.TrainableParameters(), beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: options.WeightDecay);
        finite = new FiniteUpdates(options.MaxNonfiniteSteps, "dpo");
    }

    public DecoderModel Policy => policy;
    public DpoOptions Options => options;
    public int StepsDone { get; private set; }

    /// <param name="referenceLogProbs">Per-pair reference sequence log-probs (sums, as
    /// <see cref="PreferenceLogProbs.Rows"/>), when the reference lives elsewhere; null to use the reference model,
    /// or the policy with LoRA adapters off. Ignored by SimPO and ORPO.</param>
    /// <param name="group">A data-parallel group this learner is one rank of (null: alone): the rank trains on its
    /// pairs of <paramref name="batch"/>, its mean over them weighted by its share of the pairs (and the RPO term by
    /// the whole batch's chosen tokens), and the group sums the gradients before the clip.</param>
    /// <param name="labels">KTO only, one per row: true = the row's completion is desirable.</param>
    public DpoStepMetrics Step(IReadOnlyList<PreferencePair> batch, IReadOnlyList<(float Chosen, float Rejected)>? referenceLogProbs,
        double learningRate, IGradientReducer? group = null, IReadOnlyList<bool>? labels = null)
    {
        if (batch.Count == 0) throw new ArgumentException("an empty preference batch");
        if (!(learningRate >= 0 && double.IsFinite(learningRate))) throw new ArgumentException($"learning rate must be >= 0 (got {learningRate})");
        if (referenceLogProbs is not null && referenceLogProbs.Count != batch.Count)
            throw new ArgumentException($"{referenceLogProbs.Count} reference rows for {batch.Count} pairs");
        bool kto = options.LossType == DpoLossType.Kto;
        if (kto != labels is not null)
            throw new ArgumentException(kto ? "dpo.loss_type kto needs a label per row (desirable or not)" : $"labels are read by dpo.loss_type kto only (this is {options.LossType})");
        if (labels is not null && labels.Count != batch.Count) throw new ArgumentException($"{labels.Count} labels for {batch.Count} rows");
        var clock = Stopwatch.StartNew();
        var shard = group?.Shard ?? DataShard.Whole;
        int pairs = batch.Count;
        // The whole batch's mean = Σ over ranks of (a rank's mean × its share of the pairs).
        double share = 1;
        double? chosenTokens = null;
        if (!shard.IsWhole)
        {
            // A rank's slice would estimate its own z0; the config refuses parallel learners for kto.
            if (kto) throw new NotSupportedException("KTO's KL reference point is a mean over the whole batch: it trains on one learner");
            if (options.ChosenNllWeight > 0) chosenTokens = PreferenceLogProbs.ChosenTokens(tokenizer, batch);
            batch = shard.Slice(batch);
            referenceLogProbs = referenceLogProbs is null ? null : shard.Slice(referenceLogProbs);
            share = (double)batch.Count / pairs;
        }
        using var scope = NewDisposeScope();
        policy.train();
        var (refChosen, refRejected) = ReferenceLogProbs(batch, referenceLogProbs);
        var logps = PreferenceLogProbs.Compute(policy, tokenizer, batch);
        var output = labels is null
            ? DpoLoss.Compute(options.LossType,
                new DpoLossInputs(logps.ChosenLogp, logps.RejectedLogp, refChosen, refRejected, logps.ChosenLength, logps.RejectedLength),
                options.Beta, options.LabelSmoothing, options.SimpoGamma)
            : KtoLoss.Compute(new KtoLossInputs(logps.ChosenLogp, refChosen!, logps.RejectedLogp, refRejected!,
                tensor(labels.ToArray(), device: logps.ChosenLogp.device)), options.Beta, options.DesirableWeight, options.UndesirableWeight);
        var logged = output.Logged.ToDictionary(kv => kv.Key, kv => kv.Value * share);
        var loss = shard.IsWhole ? output.Loss : output.Loss * share;
        if (options.ChosenNllWeight > 0)
        {
            // Normalised by the whole batch's chosen tokens already: the ranks' terms sum, unweighted.
            var nll = DpoLoss.ChosenNll(logps.ChosenLogp, logps.ChosenLength, chosenTokens);
            loss = loss + options.ChosenNllWeight * nll;
            logged["nll_loss"] = nll.ToDouble();
        }
        optimizer.ZeroGrad();
        loss.backward();
        var trainable = policy.TrainableParameters().Select(p => p.Param).ToArray();
        var names = logged.Keys.Order(StringComparer.Ordinal).ToArray();
        var m = GradientBuffer.SumOverGroup(group, trainable, [loss.ToDouble(),
            output.RewardsChosen * share, output.RewardsRejected * share, output.Margin * share, output.Accuracy * share,
            .. names.Select(n => logged[n])]);
        double gradNorm = FiniteUpdates.ClipGradients(trainable, options.MaxGradNorm);
        if (finite.Admit(m[0], gradNorm, StepsDone + 1)) optimizer.Step(learningRate);
        StepsDone++;
        return new DpoStepMetrics(StepsDone, m[0], m[1], m[2], m[3], m[4], gradNorm, pairs, clock.Elapsed.TotalSeconds)
        {
            Logged = names.Select((n, i) => (n, m[5 + i])).ToDictionary(x => x.n, x => x.Item2),
        };
    }

    /// <summary>Preference accuracy and mean margin of the current policy on held-out pairs, without gradient,
    /// <see cref="EvalBatchSize"/> pairs per forward.</summary>
    public PreferenceEval Evaluate(IReadOnlyList<PreferencePair> pairs, IReadOnlyList<(float Chosen, float Rejected)>? referenceLogProbs = null)
    {
        if (pairs.Count == 0) throw new ArgumentException("no preference pairs to evaluate");
        if (referenceLogProbs is not null && referenceLogProbs.Count != pairs.Count)
            throw new ArgumentException($"{referenceLogProbs.Count} reference rows for {pairs.Count} pairs");
        using var _ = no_grad();
        bool wasTraining = policy.training;
        policy.eval();                                  // no LoRA dropout while measuring
        double correct = 0, margin = 0;
        try
        {
            for (int start = 0; start < pairs.Count; start += EvalBatchSize)
            {
                using var scope = NewDisposeScope();
                int count = Math.Min(EvalBatchSize, pairs.Count - start);
                var batch = pairs.Skip(start).Take(count).ToArray();
                var rows = referenceLogProbs?.Skip(start).Take(count).ToArray();
                var (refChosen, refRejected) = ReferenceLogProbs(batch, rows);
                var logps = PreferenceLogProbs.Compute(policy, tokenizer, batch);
                // Held-out data is pairs for every variant; KTO's implicit reward β·(log π − log π_ref) is DPO's.
                var output = DpoLoss.Compute(options.LossType == DpoLossType.Kto ? DpoLossType.Sigmoid : options.LossType,
                    new DpoLossInputs(logps.ChosenLogp, logps.RejectedLogp, refChosen, refRejected, logps.ChosenLength, logps.RejectedLength),
                    options.Beta, options.LabelSmoothing, options.SimpoGamma);
                correct += output.Accuracy * count;
                margin += output.Margin * count;
            }
        }
        finally { policy.train(wasTraining); }
        return new PreferenceEval(correct / pairs.Count, margin / pairs.Count, pairs.Count);
    }

    /// <summary>[B] reference sequence log-probs without gradient, in the current dispose scope; (null, null) for
    /// SimPO and ORPO.</summary>
    (Tensor? Chosen, Tensor? Rejected) ReferenceLogProbs(IReadOnlyList<PreferencePair> batch,
        IReadOnlyList<(float Chosen, float Rejected)>? given)
    {
        if (!options.NeedsReference) return (null, null);
        var device = policy.parameters().First().device;
        if (given is not null)
        {
            if (given.Count != batch.Count) throw new ArgumentException($"{given.Count} reference rows for {batch.Count} pairs");
            return (tensor(given.Select(r => r.Chosen).ToArray(), device: device),
                tensor(given.Select(r => r.Rejected).ToArray(), device: device));
        }
        if (reference is null && policy.Lora is null)
            throw new ArgumentException($"dpo.loss_type {options.LossType} needs a reference model, precomputed reference log-probs, " +
                "or LoRA adapters to switch off");
        using var _ = no_grad();
        var logps = reference is not null
            ? PreferenceLogProbs.Compute(reference, tokenizer, batch)
            // Under LoRA the reference is the frozen base: the same model with its adapters off.
            : Lora.WithAdaptersOff(policy, () => PreferenceLogProbs.Compute(policy, tokenizer, batch));
        return (logps.ChosenLogp, logps.RejectedLogp);
    }

    /// <summary>The policy (HF folder), this optimizer's moments and the DPO position, verified like an SFT
    /// checkpoint. Full fine-tuning: the DPO-family stages refuse PEFT.</summary>
    public CheckpointInfo SaveCheckpoint(string directory, int globalStep, int seed, IReadOnlyDictionary<string, string> provenance,
        IReadOnlyDictionary<string, byte[]> extraFiles)
    {
        var state = new DpoTrainerState("dpo", globalStep, StepsDone, seed, optimizer.StepCount);
        return CheckpointWriter.Write(directory, policy.Config, ModelFactory.ExportWeights(policy), optimizer.ExportState(),
            JsonSerializer.Serialize(state), globalStep, provenance, extraFiles: extraFiles);
    }

    /// <summary>Restores this optimizer's moments and the DPO position from <paramref name="checkpoint"/> (the policy's
    /// weights are loaded by the owner of the model).</summary>
    public void LoadState(LoadedCheckpoint checkpoint, string directory, int seed)
    {
        var state = StageState.Read<DpoTrainerState>(checkpoint, directory, "dpo", seed, s => s.Stage, s => s.Seed);
        optimizer.LoadState(checkpoint.OptimizerState, state.OptimizerSteps, directory);
        StepsDone = state.DpoSteps;
    }

    sealed record DpoTrainerState(string Stage, int Step, int DpoSteps, int Seed, long OptimizerSteps);

    public void Dispose() => optimizer.Dispose();
}

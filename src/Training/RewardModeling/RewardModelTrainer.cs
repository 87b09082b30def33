using System.Diagnostics;
using RlhfActors.Training.Data;
using RlhfActors.Training.Optim;
using RlhfActors.Training.Parallel;
using RlhfActors.Training.Scoring;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;
using RlhfActors.Training.Weights;
using static TorchSharp.torch;

namespace RlhfActors.Training.RewardModeling;

/// <summary>
/// Trains a <see cref="ScalarHeadModel"/> as a reward model on labelled pairs (InstructGPT step 2; TRL's RewardTrainer):
/// shuffled epochs over the pairs (<see cref="EpochSampler{T}"/>), the <see cref="BradleyTerryLoss"/>, global-norm
/// clipping, AdamW over <see cref="ScalarHeadModel.TrainableParameters"/> with a warm-up + cosine schedule.
/// Each step scores chosen and rejected rows in one forward of 2B rows (one pass is cheaper than two, and the loss
/// differentiates both halves through the same graph). Owns the model (disposes it); not thread-safe — one
/// device worker thread calls it.
/// </summary>
public sealed class RewardModelTrainer : IDisposable
{
    public const int EvaluationBatchSize = 64;

    readonly ScalarHeadModel model;
    readonly ITokenizer tokenizer;
    readonly RewardModelOptions options;
    readonly AdamW optimizer;
    readonly WarmupCosineSchedule schedule;
    readonly EpochSampler<EncodedPreference> data;

    readonly FiniteUpdates finite;

    RewardModelTrainer(ScalarHeadModel model, ITokenizer tokenizer, EncodedPreference[] train, RewardModelOptions options, int seed)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        this.options = options;
        optimizer = new AdamW(model.TrainableParameters(), options.Beta1, options.Beta2, 1e-8, options.WeightDecay);
        finite = new FiniteUpdates(options.MaxNonfiniteSteps, "reward_model");
        schedule = new WarmupCosineSchedule(options.LearningRate, options.WarmupSteps, options.Steps, options.MinLearningRateRatio);
        data = new EpochSampler<EncodedPreference>(train, seed);
    }

    public static RewardModelTrainer Create(ScalarHeadModel model, ITokenizer tokenizer, IReadOnlyList<PreferencePair> train,
        RewardModelOptions options, int seed) =>
        Create(model, tokenizer, train.Select(p => new MarginedPreference(p, 0)).ToArray(), options, seed);

    /// <summary>As above, with a required score gap per pair (<see cref="PreferenceJsonl"/> reads one from "margin").</summary>
    public static RewardModelTrainer Create(ScalarHeadModel model, ITokenizer tokenizer, IReadOnlyList<MarginedPreference> train,
        RewardModelOptions options, int seed)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        ArgumentNullException.ThrowIfNull(train);
        var errors = options.Errors();
        if (errors.Count > 0) throw new ArgumentException(string.Join("; ", errors), nameof(options));
        if (train.Count == 0) throw new ArgumentException("no training pairs", nameof(train));
        var encoded = train.Select(p => EncodedPreference.Encode(tokenizer, p.Pair, p.Margin)).ToArray();
        int max = model.Config.MaxPositionEmbeddings;
        int longest = Array.FindIndex(encoded, e => e.LongestLength > max);
        if (longest >= 0)
            throw new ArgumentException($"training pair {longest} (prompt '{train[longest].Pair.Prompt}') is {encoded[longest].LongestLength} tokens " +
                                        $"with its longer completion and eos, more than max_position_embeddings ({max})", nameof(train));
        return new RewardModelTrainer(model, tokenizer, encoded, options, seed);
    }

    public ScalarHeadModel Model => model;
    public ITokenizer Tokenizer => tokenizer;
    public int StepsDone { get; private set; }

    /// <param name="group">A data-parallel group this trainer is one rank of (null: alone). Every rank draws the same
    /// batch (the same seed), scores its pairs with the whole batch's pair count as the normaliser, and the group sums
    /// the gradients before the clip. An update the group could not finish is tried again on the same batch.</param>
    public RewardModelStepMetrics Step(IGradientReducer? group = null) => data.WithNext(options.BatchSize, batch => Step(batch, group));

    RewardModelStepMetrics Step(IReadOnlyList<EncodedPreference> global, IGradientReducer? group)
    {
        var clock = Stopwatch.StartNew();
        var shard = group?.Shard ?? DataShard.Whole;
        var batch = shard.Slice(global);
        int? globalPairs = shard.IsWhole ? null : global.Count;
        double share = (double)batch.Count / global.Count;
        int step = StepsDone + 1;
        double lr = schedule.At(step);
        double loss, gradNorm;
        double[] summed;
        BradleyTerryResult result;
        using (var scope = NewDisposeScope())
        {
            model.Train();
            var (chosen, rejected) = ScorePairs(batch);
            var margin = batch.Any(p => p.Margin != 0)
                ? tensor(batch.Select(p => (float)p.Margin).ToArray(), device: chosen.device)
                : null;
            result = BradleyTerryLoss.Compute(chosen, rejected, margin, options.CenterRewardsCoefficient, globalPairs);
            optimizer.ZeroGrad();
            result.Loss.backward();
            var trainable = model.TrainableParameters().Select(p => p.Param).ToArray();
            // Alone: the values as they are. In a group: the sums over ranks (the pair means weighted by this rank's
            // share of the pairs), the same on every rank.
            summed = GradientBuffer.SumOverGroup(group, trainable, result.Loss.item<float>(), result.Accuracy * share, result.MeanMargin * share);
            gradNorm = FiniteUpdates.ClipGradients(trainable, options.MaxGradNorm);
            loss = summed[0];
            if (finite.Admit(loss, gradNorm, step)) optimizer.Step(lr);
        }
        StepsDone = step;
        return new RewardModelStepMetrics(step, loss, summed[1], summed[2], lr, gradNorm, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Preference accuracy on <paramref name="heldOut"/> pairs, scored without gradients in batches of
    /// <see cref="EvaluationBatchSize"/> pairs. A tie (r_c = r_r) counts as wrong.</summary>
    public PreferenceAccuracy Evaluate(IReadOnlyList<PreferencePair> heldOut)
    {
        ArgumentNullException.ThrowIfNull(heldOut);
        if (heldOut.Count == 0) throw new ArgumentException("no held-out pairs", nameof(heldOut));
        int correct = 0;
        double gapSum = 0;
        model.Train(false);
        foreach (var chunk in heldOut.Chunk(EvaluationBatchSize))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var (chosen, rejected) = ScorePairs(chunk.Select(p => EncodedPreference.Encode(tokenizer, p)).ToArray());
            var gaps = (chosen - rejected).to(ScalarType.Float64).data<double>().ToArray();
            correct += gaps.Count(g => g > 0);
            gapSum += gaps.Sum();
        }
        return new PreferenceAccuracy(heldOut.Count, correct, (double)correct / heldOut.Count, gapSum / heldOut.Count);
    }

    /// <summary>Scores of the chosen and the rejected rows, [B] each, from one forward over all 2B sequences.</summary>
    (Tensor Chosen, Tensor Rejected) ScorePairs(IReadOnlyList<EncodedPreference> pairs)
    {
        var prompts = pairs.Select(p => p.Prompt).Concat(pairs.Select(p => p.Prompt)).ToArray();
        var completions = pairs.Select(p => p.Chosen).Concat(pairs.Select(p => p.Rejected)).ToArray();
        var scores = model.SequenceScores(prompts, completions, tokenizer.PadId);
        return (scores.narrow(0, 0, pairs.Count), scores.narrow(0, pairs.Count, pairs.Count));
    }

    /// <summary>Body and head as <c>LlamaForSequenceClassification</c> stores them (<see cref="ScalarHeadModel.ExportWeights"/>).</summary>
    public IReadOnlyList<TensorBytes> ExportWeights() => model.ExportWeights();

    public void Dispose()
    {
        optimizer.Dispose();
        model.Dispose();
    }
}

using RlhfActors.Training.Data;
using RlhfActors.Training.Evaluation;
using RlhfActors.Training.Model;
using RlhfActors.Training.Rewards;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Tokenization;
using RlhfActors.Training.Weights;

namespace RlhfActors.Training.Rl;

/// <summary>
/// Synchronous GRPO in one process: sample G completions per prompt with the current policy, score them, update.
/// The grain pipeline runs the same calls through actors, deciding prompts, shards and seeds with the same
/// <see cref="GrpoPlan"/>; this loop is the baseline that measures the actors' cost and the reference that the
/// equivalence test compares them with.
/// </summary>
public sealed class GrpoLoop
{
    /// <summary>Dynamic sampling gives up refilling after this many extra generations in one step and trains on
    /// what it has (a batch where nearly every group is solved or failed has little to learn from anyway).</summary>
    public const int MaxRefills = 4;

    readonly GrpoLearner learner;
    readonly ITokenizer tokenizer;
    readonly GrpoPlan plan;
    readonly IRewardFunction reward;
    readonly GrpoOptions options;
    readonly int promptsPerStep, shards;
    // Steps attempted (dropped ones too): indexes the sampling seeds, as the grain controller's step counter does.
    int attempted;

    readonly PolicyEvaluator? inferenceCopy;
    readonly string inferenceWireDType;

    /// <param name="inferenceCopy">The samplers' copy in another dtype (model.sampler_dtype), loaded with the learner's
    /// weights rounded to <paramref name="inferenceWireDType"/> ("BF16") before every generation, as a sampler grain
    /// pulls them; null: sample with the learner's own policy.</param>
    public GrpoLoop(GrpoLearner learner, ITokenizer tokenizer, IReadOnlyList<PromptCompletion> prompts,
        IRewardFunction reward, GrpoOptions options, int promptsPerStep, int seed, int shards = 1,
        PolicyEvaluator? inferenceCopy = null, string inferenceWireDType = "F32")
    {
        this.inferenceCopy = inferenceCopy;
        this.inferenceWireDType = inferenceWireDType;
        this.learner = learner;
        this.tokenizer = tokenizer;
        plan = new GrpoPlan(prompts, seed);
        this.reward = reward;
        this.options = options;
        this.promptsPerStep = promptsPerStep;
        this.shards = shards;
    }

    public GrpoStepMetrics Step(double learningRate)
    {
        int step = attempted++;
        var scored = Generate(step, attempt: 0);
        for (int refill = 1; options.DynamicSampling && refill <= MaxRefills && scored.Batch.Groups < promptsPerStep; refill++)
            scored = scored.Concat(Generate(step, refill));
        if (options.DynamicSampling) scored = scored.Select(GrpoPlan.FirstGroupRows(scored.Batch.Count, scored.Batch.GroupSize, promptsPerStep));
        if (scored.Batch.Count == 0)
            return new GrpoStepMetrics(step, learner.PolicyVersion, double.NaN, double.NaN, null, 0, double.NaN, 0, 0, 0) { Dropped = true };
        return learner.Step(scored.Batch, scored.Rewards, learningRate, rewardComponents: scored.TermColumns());
    }

    /// <summary>One generation of the step's prompts (attempt 0) or of a refill (attempt ≥ 1), scored; under dynamic
    /// sampling only the groups with a reward signal are kept.</summary>
    Scored Generate(int step, int attempt)
    {
        var prompts = plan.NextPrompts(promptsPerStep);
        learner.Policy.eval();
        inferenceCopy?.LoadWeights(WeightCast.To(ModelFactory.ExportWeights(learner.Policy), inferenceWireDType));
        var parts = GrpoPlan.Split(prompts, shards).Select((shard, i) =>
        {
            var sampling = Sampling(plan.ShardSeed(step, attempt * shards + i));
            return inferenceCopy is not null
                ? inferenceCopy.SampleGroups(shard, options.NumGenerations, sampling, learner.PolicyVersion)
                : GroupSampler.Sample(learner.Policy, tokenizer, shard, options.NumGenerations, sampling, learner.PolicyVersion);
        }).ToArray();
        var rollouts = RolloutBatch.Concat(parts);
        // Local verifiers complete synchronously; an HTTP reward blocks this (device) thread, which is what a
        // synchronous loop means. normalize_then_sum needs each term's scores, which only a composite has.
        var requests = rollouts.RewardRequests();
        Scored scored;
        if (options.MultiObjectiveAggregation == MultiObjectiveAggregation.NormalizeThenSum)
        {
            var composite = reward as CompositeReward
                ?? throw new InvalidOperationException("multi_objective_aggregation normalize_then_sum needs a composite reward of several terms");
            var breakdown = composite.ScoreComponentsAsync(requests, CancellationToken.None).GetAwaiter().GetResult();
            scored = new Scored(rollouts, breakdown.Total,
                Enumerable.Range(0, rollouts.Count).Select(r => breakdown.Components.Select(c => c[r]).ToArray()).ToArray());
        }
        else scored = new Scored(rollouts, reward.ScoreAsync(requests, CancellationToken.None).GetAwaiter().GetResult(), null);
        return options.DynamicSampling ? scored.Select(GrpoPlan.RowsWithSignal(scored.Rewards, rollouts.GroupSize)) : scored;
    }

    /// <summary>Rollouts with their rewards and, under normalize_then_sum, each row's per-term scores.</summary>
    sealed record Scored(RolloutBatch Batch, double[] Rewards, double[][]? Terms)
    {
        public Scored Select(int[] rows) => new(Batch.Select(rows), GrpoPlan.Pick(Rewards, rows), Terms is null ? null : rows.Select(r => Terms[r]).ToArray());

        public Scored Concat(Scored more) => new(RolloutBatch.Concat([Batch, more.Batch]), [.. Rewards, .. more.Rewards],
            Terms is null ? null : [.. Terms, .. more.Terms!]);

        /// <summary>The terms as the learner takes them: [K][B].</summary>
        public double[][]? TermColumns() => Terms is null || Terms.Length == 0 ? null
            : Enumerable.Range(0, Terms[0].Length).Select(k => Terms.Select(row => row[k]).ToArray()).ToArray();
    }

    SamplingOptions Sampling(int seed) => new()
    {
        MaxNewTokens = options.MaxCompletionLength,
        Temperature = options.Temperature,
        Seed = seed,
    };
}

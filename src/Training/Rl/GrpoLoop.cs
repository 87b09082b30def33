using RlhfActors.Training.Data;
using RlhfActors.Training.Rewards;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Tokenization;

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

    public GrpoLoop(GrpoLearner learner, ITokenizer tokenizer, IReadOnlyList<PromptCompletion> prompts,
        IRewardFunction reward, GrpoOptions options, int promptsPerStep, int seed, int shards = 1)
    {
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
        var (rollouts, rewards) = Generate(step, attempt: 0);
        for (int refill = 1; options.DynamicSampling && refill <= MaxRefills && rollouts.Groups < promptsPerStep; refill++)
        {
            var (more, moreRewards) = Generate(step, refill);
            (rollouts, rewards) = (RolloutBatch.Concat([rollouts, more]), [.. rewards, .. moreRewards]);
        }
        if (options.DynamicSampling) (rollouts, rewards) = GrpoPlan.FirstGroups(rollouts, rewards, promptsPerStep);
        if (rollouts.Count == 0)
            return new GrpoStepMetrics(step, learner.PolicyVersion, double.NaN, double.NaN, null, 0, double.NaN, 0, 0, 0) { Dropped = true };
        return learner.Step(rollouts, rewards, learningRate);
    }

    /// <summary>One generation of the step's prompts (attempt 0) or of a refill (attempt ≥ 1), scored; under dynamic
    /// sampling only the groups with a reward signal are kept.</summary>
    (RolloutBatch Batch, double[] Rewards) Generate(int step, int attempt)
    {
        var prompts = plan.NextPrompts(promptsPerStep);
        learner.Policy.eval();
        var parts = GrpoPlan.Split(prompts, shards).Select((shard, i) => GroupSampler.Sample(learner.Policy, tokenizer, shard,
            options.NumGenerations, Sampling(plan.ShardSeed(step, attempt * shards + i)), learner.PolicyVersion)).ToArray();
        var rollouts = RolloutBatch.Concat(parts);
        // Local verifiers complete synchronously; an HTTP reward blocks this (device) thread, which is what a
        // synchronous loop means.
        var scores = reward.ScoreAsync(rollouts.RewardRequests(), CancellationToken.None).GetAwaiter().GetResult();
        return options.DynamicSampling ? GrpoPlan.KeepGroupsWithSignal(rollouts, scores) : (rollouts, scores);
    }

    SamplingOptions Sampling(int seed) => new()
    {
        MaxNewTokens = options.MaxCompletionLength,
        Temperature = options.Temperature,
        Seed = seed,
    };
}

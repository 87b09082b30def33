using RlhfActors.Training.Data;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Distillation;

/// <summary>
/// Distillation in one process: per step, GKD's λ coin; on-policy, the student samples G completions per prompt (one
/// shard per configured sampler, each with <see cref="GrpoPlan.ShardSeed"/>), otherwise the prompts' dataset
/// completions; the teacher scores the batch; the student updates. The grain pipeline makes the same calls through
/// actors, drawing prompts, seeds and coins from the same <see cref="GrpoPlan"/> and <see cref="DistillBatches"/>:
/// this loop is the reference the equivalence test compares it with.
/// </summary>
public sealed class DistillLoop(DistillLearner learner, TeacherModel teacher, ITokenizer tokenizer,
    IReadOnlyList<PromptCompletion> prompts, int promptsPerStep, int seed, int shards = 1)
{
    readonly GrpoPlan plan = new(prompts, seed);
    int steps;

    public DistillStepMetrics Step(double learningRate)
    {
        int step = steps++;
        var options = learner.Options;
        bool onPolicy = DistillBatches.OnPolicy(seed, step, options.Lmbda);
        var drawn = plan.NextPrompts(promptsPerStep);
        RolloutBatch batch;
        if (onPolicy)
        {
            learner.Student.eval();
            batch = RolloutBatch.Concat(GrpoPlan.Split(drawn, shards).Select((shard, i) => GroupSampler.Sample(learner.Student, tokenizer, shard,
                options.NumGenerations, new SamplingOptions
                {
                    MaxNewTokens = options.MaxNewTokens,
                    Temperature = options.Temperature,
                    Seed = plan.ShardSeed(step, i),
                }, learner.PolicyVersion)).ToArray());
        }
        else batch = DistillBatches.FromDataset(tokenizer, drawn, learner.PolicyVersion);
        return learner.Step(batch, teacher.Targets(batch, options), learningRate, onPolicy);
    }
}

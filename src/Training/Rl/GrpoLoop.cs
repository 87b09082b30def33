using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Rewards;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tasks;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Rl;

/// <summary>
/// Synchronous GRPO in one process: sample G completions per prompt with the current policy, score them, update.
/// The grain pipeline runs the same three calls through actors; this loop is the baseline that measures their cost.
/// Prompts are visited in shuffled epochs (stable seed), <c>promptsPerStep</c> at a time.
/// </summary>
public sealed class GrpoLoop
{
    readonly GrpoLearner learner;
    readonly ITokenizer tokenizer;
    readonly EpochSampler<PromptCompletion> prompts;
    readonly IRewardFunction reward;
    readonly GrpoOptions options;
    readonly int promptsPerStep, seed;

    public GrpoLoop(GrpoLearner learner, ITokenizer tokenizer, IReadOnlyList<PromptCompletion> prompts,
        IRewardFunction reward, GrpoOptions options, int promptsPerStep, int seed)
    {
        this.learner = learner;
        this.tokenizer = tokenizer;
        this.prompts = new EpochSampler<PromptCompletion>(prompts, seed);
        this.reward = reward;
        this.options = options;
        this.promptsPerStep = promptsPerStep;
        this.seed = seed;
    }

    public GrpoStepMetrics Step(double learningRate)
    {
        var batchPrompts = prompts.Next(promptsPerStep);
        var sampling = new SamplingOptions
        {
            MaxNewTokens = options.MaxCompletionLength,
            Temperature = options.Temperature,
            Seed = StableSeed.Derive(seed, learner.StepsDone),
        };
        learner.Policy.eval();
        var rollouts = GroupSampler.Sample(learner.Policy, tokenizer, batchPrompts, options.NumGenerations, sampling, learner.PolicyVersion);
        var requests = Enumerable.Range(0, rollouts.Count)
            .Select(i => new RewardRequest(rollouts.Prompts[i], rollouts.CompletionTexts[i], rollouts.References[i])).ToArray();
        // Local verifiers complete synchronously; an HTTP reward blocks this (device) thread, which is what a
        // synchronous loop means.
        var scores = reward.ScoreAsync(requests, CancellationToken.None).GetAwaiter().GetResult();
        return learner.Step(rollouts, scores, learningRate);
    }
}

using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Rewards;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Rl.Ppo;

/// <summary>One in-process PPO iteration: the policy's and the critic's updates.</summary>
public sealed record PpoLoopMetrics(PpoStepMetrics Policy, CriticStepMetrics Critic);

/// <summary>
/// Synchronous PPO with a critic in one process, in the order the actors will run it: sample with the current
/// policy (<see cref="GroupSampler"/>, 1+ completions per prompt; prompts and seeds from a <see cref="GrpoPlan"/>),
/// score, critic values V_old, reference log-probs, policy step (→ returns), critic step on those returns. The
/// baseline the grain pipeline is compared with, and the test harness.
/// </summary>
public sealed class PpoLoop
{
    readonly PpoPolicyLearner policy;
    readonly CriticLearner critic;
    readonly DecoderModel? reference;
    readonly ITokenizer tokenizer;
    readonly GrpoPlan plan;
    readonly Func<RolloutBatch, IReadOnlyList<double>> score;
    readonly int promptsPerStep, completionsPerPrompt;
    int steps;

    /// <param name="reference">The frozen reference model; null when β = 0 or under LoRA (adapters off).</param>
    /// <param name="score">One score per completion of the batch (a verifier or a reward model).</param>
    public PpoLoop(PpoPolicyLearner policy, CriticLearner critic, DecoderModel? reference, ITokenizer tokenizer,
        IReadOnlyList<PromptCompletion> prompts, Func<RolloutBatch, IReadOnlyList<double>> score, int promptsPerStep,
        int completionsPerPrompt, int seed)
    {
        if (promptsPerStep < 1 || completionsPerPrompt < 1) throw new ArgumentException("prompts per step and completions per prompt must be >= 1");
        this.policy = policy;
        this.critic = critic;
        this.reference = reference;
        this.tokenizer = tokenizer;
        plan = new GrpoPlan(prompts, seed);
        this.score = score;
        this.promptsPerStep = promptsPerStep;
        this.completionsPerPrompt = completionsPerPrompt;
    }

    /// <summary>A reward function as a scorer. Local verifiers complete synchronously; an HTTP reward blocks this
    /// (device) thread, which is what a synchronous loop means.</summary>
    public static Func<RolloutBatch, IReadOnlyList<double>> Scorer(IRewardFunction reward) => batch =>
        reward.ScoreAsync(batch.RewardRequests(), CancellationToken.None).GetAwaiter().GetResult();

    /// <summary>One PPO iteration at the options' learning rates.</summary>
    public PpoLoopMetrics Step()
    {
        var options = policy.Options;
        int step = steps++;
        policy.Policy.eval();
        var batch = GroupSampler.Sample(policy.Policy, tokenizer, plan.NextPrompts(promptsPerStep), completionsPerPrompt,
            new SamplingOptions { MaxNewTokens = options.MaxCompletionLength, Temperature = options.Temperature, Seed = plan.ShardSeed(step, 0) },
            policy.PolicyVersion);
        var scores = score(batch);
        var values = critic.Values(batch);
        var referenceRows = reference is null ? null : GrpoLearner.RowLogProbs(reference, batch, options.Temperature, tokenizer.PadId);
        var result = policy.Step(batch, scores, values, referenceRows, options.LearningRate);
        var criticMetrics = critic.Step(batch, result.Returns, values, options.CriticLearningRate);
        return new PpoLoopMetrics(result.Metrics, criticMetrics);
    }
}

using RlhfActors.Training.Data;
using RlhfActors.Training.Judging;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Preference;

/// <summary>One online DPO step: the pairs the judge kept (none: no update), what it made of the prompts, the update.</summary>
public sealed record OnlineDpoStepMetrics(int Step, IReadOnlyList<PreferencePair> Pairs, RankOutcome Judged, DpoStepMetrics? Update);

/// <summary>
/// Online DPO in one process (TRL's OnlineDPOTrainer, with a judge that may drop ties): each step samples two
/// completions for each of the step's prompts with the current policy, lets <c>judge</c> pair them (chosen ≻
/// rejected), and makes one DPO update on those pairs against a frozen reference. The grain pipeline runs the same
/// calls through actors — prompts, shards and seeds from the same <see cref="GrpoPlan"/>, reference rows through a
/// <see cref="ReferenceLogProbCache"/> as the reference grain does — so this loop is the reference its equivalence
/// test compares with.
/// </summary>
public sealed class OnlineDpoLoop(DpoLearner learner, ITokenizer tokenizer, IReadOnlyList<PromptCompletion> prompts,
    Func<IReadOnlyList<CandidateSet>, RankOutcome> judge, Func<IReadOnlyList<PreferencePair>, (float Chosen, float Rejected)[]>? reference,
    int promptsPerStep, int maxNewTokens, double temperature, int seed, int shards = 1)
{
    /// <summary>Two completions per prompt: TRL's num_generation_per_prompt, the only value it supports.</summary>
    public const int Candidates = 2;

    readonly GrpoPlan plan = new(prompts, seed);
    int steps;

    public OnlineDpoStepMetrics Step(double learningRate)
    {
        int step = steps++;
        var batch = plan.NextPrompts(promptsPerStep);
        learner.Policy.eval();
        var rollouts = RolloutBatch.Concat([.. GrpoPlan.Split(batch, shards).Select((shard, i) => GroupSampler.Sample(learner.Policy, tokenizer, shard,
            Candidates, new SamplingOptions { MaxNewTokens = maxNewTokens, Temperature = temperature, Seed = plan.ShardSeed(step, i) }, policyVersion: step))]);
        var sets = Enumerable.Range(0, rollouts.Groups).Select(g => new CandidateSet(rollouts.Prompts[g * Candidates],
            [.. rollouts.CompletionTexts.Skip(g * Candidates).Take(Candidates)],
            [.. rollouts.Truncated.Skip(g * Candidates).Take(Candidates)],
            rollouts.References[g * Candidates]));
        var judged = judge(CandidateRanking.Unique(sets));
        var pairs = judged.Pairs.Select(p => new PreferencePair(p.Prompt, p.Chosen, p.Rejected)).ToArray();
        var update = pairs.Length == 0 ? null : learner.Step(pairs, reference?.Invoke(pairs), learningRate);
        return new OnlineDpoStepMetrics(step, pairs, judged, update);
    }
}

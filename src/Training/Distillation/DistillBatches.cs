using RlhfActors.Training.Data;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tasks;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Distillation;

/// <summary>The two decisions a distillation step takes before anything is sampled, written once for the in-process
/// loop and the grain stage: whether it is on-policy (GKD's λ coin), and, when not, its batch of dataset
/// completions.</summary>
public static class DistillBatches
{
    // The coin's own seed stream, apart from the prompt order's and the samplers' (GrpoPlan).
    const int CoinStream = 0x6B64; // "kd"

    /// <summary>Whether step <paramref name="step"/> trains on the student's own samples: with probability λ (TRL
    /// GKDTrainer: random.random() &lt;= lmbda), from a seed of (seed, step) alone, so a resumed or a grain-driven run
    /// tosses the same coins as the in-process loop. λ = 1 always, 0 never.</summary>
    public static bool OnPolicy(int seed, int step, double lmbda) =>
        lmbda >= 1 || lmbda > 0 && new Random(StableSeed.Derive(StableSeed.Derive(seed, CoinStream), step)).NextDouble() < lmbda;

    /// <summary>The prompts with the dataset's completions as a rollout batch of one row per prompt (token ids as SFT
    /// encodes them: [bos] prompt, completion [eos]), for a step that is not on-policy. Behaviour log-probs are zeros:
    /// no policy sampled these.</summary>
    public static RolloutBatch FromDataset(ITokenizer tokenizer, IReadOnlyList<PromptCompletion> prompts, long policyVersion)
    {
        var encoded = prompts.Select(p => EncodedExample.Encode(tokenizer, p)).ToArray();
        return new RolloutBatch(
            encoded.Select(e => e.Prompt).ToArray(),
            encoded.Select(e => e.Completion).ToArray(),
            encoded.Select(e => new float[e.Completion.Length]).ToArray(),
            prompts.Select(p => p.Prompt).ToArray(),
            prompts.Select(p => p.Completion).ToArray(),
            prompts.Select(p => (string?)p.Reference).ToArray(),
            new bool[prompts.Count],
            GroupSize: 1,
            policyVersion);
    }
}

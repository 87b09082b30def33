using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Rollouts;

/// <summary>GRPO's group sampling: each prompt is repeated G times in one batched generation, so the group's
/// completions differ only by the sampling noise.</summary>
public static class GroupSampler
{
    public static RolloutBatch Sample(DecoderModel policy, ITokenizer tokenizer, IReadOnlyList<PromptCompletion> prompts,
        int groupSize, SamplingOptions options, long policyVersion)
    {
        if (groupSize < 1) throw new ArgumentException("group size must be ≥ 1", nameof(groupSize));
        var stops = options.StopTokens.Union(tokenizer.StopIds).ToHashSet();
        options = options with { StopTokens = [.. stops] };

        var rows = prompts.SelectMany(p => Enumerable.Repeat(p, groupSize)).ToArray();
        var promptIds = rows.Select(r => EncodedExample.EncodePrompt(tokenizer, r.Prompt)).ToArray();
        var generated = Sampler.Generate(policy, promptIds, options, padId: tokenizer.PadId);
        var truncated = generated.Ids.Select(ids => ids.Length == 0 || !stops.Contains(ids[^1])).ToArray();
        var texts = generated.Ids.Select(ids => tokenizer.Decode(ids.Where(t => !stops.Contains(t)))).ToArray();
        return new RolloutBatch(promptIds, generated.Ids, generated.LogProbs, rows.Select(r => r.Prompt).ToArray(), texts,
            rows.Select(r => (string?)r.Reference).ToArray(), truncated, groupSize, policyVersion)
        {
            Columns = rows.Any(r => r.Columns is not null) ? rows.Select(r => r.Columns).ToArray() : [],
        };
    }
}

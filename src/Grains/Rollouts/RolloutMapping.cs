using System.Collections.Immutable;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Training.Data;
using RlhfActors.Training.Rewards;
using RlhfActors.Training.Rollouts;

namespace RlhfActors.Grains.Rollouts;

/// <summary>Training's <see cref="RolloutBatch"/> ⇄ the wire's <see cref="RolloutBatchMessage"/>; arrays are shared,
/// not copied (both sides treat them as immutable).</summary>
public static class RolloutMapping
{
    public static RolloutBatchMessage ToMessage(this RolloutBatch batch, double seconds) => new()
    {
        PromptIds = [.. batch.PromptIds],
        CompletionIds = [.. batch.CompletionIds],
        BehaviourLogProbs = [.. batch.BehaviourLogProbs],
        Prompts = [.. batch.Prompts],
        CompletionTexts = [.. batch.CompletionTexts],
        References = [.. batch.References],
        Truncated = [.. batch.Truncated],
        GroupSize = batch.GroupSize,
        PolicyVersion = batch.PolicyVersion,
        Seconds = seconds,
    };

    public static RolloutBatch ToBatch(this RolloutBatchMessage message) => new(
        message.PromptIds, message.CompletionIds, message.BehaviourLogProbs, message.Prompts, message.CompletionTexts,
        message.References, message.Truncated, message.GroupSize, message.PolicyVersion);

    /// <summary>Shards from several samplers as one message (rows in shard order; the oldest version; summed time).</summary>
    public static RolloutBatchMessage Merge(IReadOnlyList<RolloutBatchMessage> shards) =>
        RolloutBatch.Concat(shards.Select(s => s.ToBatch()).ToArray()).ToMessage(shards.Sum(s => s.Seconds));

    public static RewardBatch ToRewardBatch(this RolloutBatchMessage rollouts) => new()
    {
        Prompts = rollouts.Prompts,
        Completions = rollouts.CompletionTexts,
        References = rollouts.References,
    };

    public static RewardRequest[] ToRequests(this RewardBatch batch)
    {
        if (batch.Completions.Length != batch.Prompts.Length || batch.References.Length != batch.Prompts.Length)
            throw new ArgumentException($"reward batch has {batch.Prompts.Length} prompts, {batch.Completions.Length} completions and {batch.References.Length} references");
        return Enumerable.Range(0, batch.Prompts.Length)
            .Select(i => new RewardRequest(batch.Prompts[i], batch.Completions[i], batch.References[i])).ToArray();
    }

    public static ImmutableArray<PromptItem> ToPromptItems(this IEnumerable<PromptCompletion> prompts) =>
        [.. prompts.Select(p => new PromptItem(p.Prompt, p.Completion))];

    public static PromptCompletion[] ToPrompts(this ImmutableArray<PromptItem> items) =>
        items.Select(i => new PromptCompletion(i.Prompt, i.Reference ?? "")).ToArray();
}

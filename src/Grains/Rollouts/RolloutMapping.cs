using System.Collections.Immutable;
using System.Runtime.InteropServices;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Training.Data;
using RlhfActors.Training.Rollouts;

namespace RlhfActors.Grains.Rollouts;

/// <summary>The two ends of a rollout's trip: the sampler turns Training's <see cref="RolloutBatch"/> into the contract
/// (<see cref="RolloutBatchMessage"/>) once, and a grain whose Training code takes a <see cref="RolloutBatch"/> turns it
/// back once, where the call arrives. Nothing in between converts. Both directions share the arrays, never copy them
/// (both sides treat them as immutable).</summary>
public static class RolloutMapping
{
    public static RolloutBatchMessage ToMessage(this RolloutBatch batch, double seconds) => new()
    {
        PromptIds = Shared(batch.PromptIds),
        CompletionIds = Shared(batch.CompletionIds),
        BehaviourLogProbs = Shared(batch.BehaviourLogProbs),
        Prompts = Shared(batch.Prompts),
        CompletionTexts = Shared(batch.CompletionTexts),
        References = Shared(batch.References),
        Truncated = Shared(batch.Truncated),
        Columns = Shared(batch.Columns),
        GroupSize = batch.GroupSize,
        PolicyVersion = batch.PolicyVersion,
        Seconds = seconds,
    };

    /// <summary>A GRPO request's per-row inputs besides the rollouts, as the Training learner takes them: the reference
    /// log-probs (null: none sent) and each reward term's scores (null: none sent).</summary>
    public static (float[][]? Reference, double[][]? RewardComponents) StepInputs(this GrpoStepRequest request) => (
        request.ReferenceLogProbs.IsDefault ? null : [.. request.ReferenceLogProbs],
        request.RewardComponents.IsDefault ? null : [.. request.RewardComponents.Select(c => c.ToArray())]);

    public static RolloutBatch ToBatch(this RolloutBatchMessage message) => new(
        message.PromptIds, message.CompletionIds, message.BehaviourLogProbs, message.Prompts, message.CompletionTexts,
        message.References, message.Truncated, message.GroupSize, message.PolicyVersion) { Columns = message.Columns.IsDefault ? [] : message.Columns };

    /// <summary>The column as an immutable array: the arrays <see cref="GroupSampler"/> builds are wrapped, not copied
    /// (nothing writes them once sampled).</summary>
    static ImmutableArray<T> Shared<T>(IReadOnlyList<T> column) => column switch
    {
        T[] array => ImmutableCollectionsMarshal.AsImmutableArray(array),
        ImmutableArray<T> immutable => immutable,
        _ => [.. column],
    };

    public static ImmutableArray<PromptItem> ToPromptItems(this IEnumerable<PromptCompletion> prompts) =>
        [.. prompts.Select(p => new PromptItem(p.Prompt, p.Reference, p.Columns))];

    public static PromptCompletion[] ToPrompts(this ImmutableArray<PromptItem> items) =>
        items.Select(i => new PromptCompletion(i.Prompt, i.Reference ?? "") { Columns = i.Columns }).ToArray();
}

namespace RlhfActors.Training.Rollouts;

/// <summary>
/// G sampled completions for each of a batch of prompts, in groups of <see cref="GroupSize"/> consecutive rows, with the
/// behaviour log-probs of the policy version that produced them. Free of TorchSharp so it can cross an actor boundary.
/// </summary>
public sealed record RolloutBatch(
    IReadOnlyList<int[]> PromptIds,
    IReadOnlyList<int[]> CompletionIds,
    IReadOnlyList<float[]> BehaviourLogProbs,
    IReadOnlyList<string> Prompts,
    IReadOnlyList<string> CompletionTexts,
    IReadOnlyList<string?> References,
    IReadOnlyList<bool> Truncated,
    int GroupSize,
    long PolicyVersion)
{
    public int Count => PromptIds.Count;
    public int Groups => Count / GroupSize;
}

namespace RlhfActors.Training.Data;

/// <summary>One supervised example with TRL's field names: the model sees <see cref="Prompt"/> and learns
/// <see cref="Completion"/>. An expected answer for verifiable tasks is <see cref="Answer"/>, or the completion itself.</summary>
public sealed record PromptCompletion(string Prompt, string Completion)
{
    /// <summary>The completion cut into the parts that are learned and those that are only context (a conversation's
    /// later user turns, learned from nothing but its assistant turns: TRL's assistant_only_loss), in order; their
    /// texts join to <see cref="Completion"/>. Null: every part of the completion is learned.</summary>
    public IReadOnlyList<TextSegment>? Segments { get; init; }

    /// <summary>What a correct generation says, when it differs from the completion's text: a conversation's last
    /// assistant content, where the completion holds the template's end-of-turn markup too.</summary>
    public string? Answer { get; init; }

    /// <summary>The line's fields other than the prompt and its reference (completion, answer or solution, which reach
    /// reward functions as the reference), as one compact JSON object; null when the line has none. TRL passes every
    /// dataset column to reward functions as keyword arguments (<c>difficulty</c>, test cases, …); here they arrive
    /// with each completion (<see cref="Rewards.RewardRequest.Columns"/>).</summary>
    public string? Columns { get; init; }

    /// <summary>The reference a verifier or reward function compares a generation with.</summary>
    public string Reference => Answer ?? Completion;
}

/// <summary>A piece of a completion's text and whether the loss learns it.</summary>
public sealed record TextSegment(string Text, bool Trained);

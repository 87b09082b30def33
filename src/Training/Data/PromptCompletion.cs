namespace RlhfActors.Training.Data;

/// <summary>One supervised example with TRL's field names: the model sees <see cref="Prompt"/> and learns
/// <see cref="Completion"/>. An expected answer for verifiable tasks is the completion itself.</summary>
public sealed record PromptCompletion(string Prompt, string Completion);

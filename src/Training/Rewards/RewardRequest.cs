namespace RlhfActors.Training.Rewards;

/// <summary>One completion to score. <paramref name="Completion"/> is the text the policy generated;
/// <paramref name="Reference"/> is the dataset's answer (TRL's <c>answer</c> / <c>completion</c> field), null when
/// the dataset has none (a learned reward model or judge does not need one; a verifier does). <paramref name="Columns"/>
/// is the prompt line's other fields as a JSON object (<see cref="Data.PromptCompletion.Columns"/>), null when none.</summary>
public sealed record RewardRequest(string Prompt, string Completion, string? Reference, string? Columns = null);

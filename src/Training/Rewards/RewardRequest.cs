namespace RlhfActors.Training.Rewards;

/// <summary>One completion to score. <paramref name="Completion"/> is the text the policy generated;
/// <paramref name="Reference"/> is the dataset's answer (TRL's <c>answer</c> / <c>completion</c> field), null when
/// the dataset has none (a learned reward model or judge does not need one; a verifier does).</summary>
public sealed record RewardRequest(string Prompt, string Completion, string? Reference);

namespace RlhfActors.Training.Data;

/// <summary>One preference with TRL's field names: for <see cref="Prompt"/>, the completion <see cref="Chosen"/> is
/// preferred over <see cref="Rejected"/> (by a human label, a verifier, or an AI judge). Completions exclude the
/// prompt, as in TRL's "implicit prompt"-free format.</summary>
public sealed record PreferencePair(string Prompt, string Chosen, string Rejected);

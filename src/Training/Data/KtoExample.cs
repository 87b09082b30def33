namespace RlhfActors.Training.Data;

/// <summary>One example of TRL's unpaired preference form: <see cref="Completion"/> after <see cref="Prompt"/> is
/// desirable (<see cref="Label"/> true) or undesirable (false), with no other completion to compare it with. What KTO
/// trains on.</summary>
public sealed record KtoExample(string Prompt, string Completion, bool Label);

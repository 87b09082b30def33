namespace RlhfActors.Abstractions.Config;

/// <summary>One problem with an experiment config. <see cref="Path"/> is the YAML field path
/// (<c>sft.learning_rate</c>); <see cref="Message"/> is a full sentence that starts with it.</summary>
public sealed record ConfigError(string Path, string Message)
{
    public override string ToString() => Message;
}

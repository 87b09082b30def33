namespace RlhfActors.Client.Config;

/// <summary>An experiment file that cannot be used. Each error is one line "file:line: field-path problem".</summary>
public sealed class ConfigLoadException(string file, IReadOnlyList<string> errors)
    : Exception(string.Join(Environment.NewLine, errors))
{
    public string File { get; } = file;
    public IReadOnlyList<string> Errors { get; } = errors;
}

namespace RlhfActors.Training.Data;

/// <summary>Correct when the generated text, trimmed of surrounding whitespace, equals the expected completion
/// exactly. Trimming forgives a trailing newline or space a model may emit before eos; nothing else is forgiven.</summary>
public sealed class ExactMatchVerifier : IAnswerVerifier
{
    public static ExactMatchVerifier Instance { get; } = new();

    public bool IsCorrect(PromptCompletion example, string generatedCompletion)
    {
        ArgumentNullException.ThrowIfNull(example);
        return Matches(example.Completion, generatedCompletion);
    }

    public static bool Matches(string expected, string generated)
    {
        ArgumentNullException.ThrowIfNull(generated);
        return string.Equals(generated.Trim(), expected, StringComparison.Ordinal);
    }
}

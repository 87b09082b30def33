namespace RlhfActors.Training.Data;

/// <summary>Correct when the generated text, trimmed of surrounding whitespace, equals the example's reference (its answer, or its completion)
/// exactly. Trimming forgives a trailing newline or space a model may emit before eos; nothing else is forgiven.</summary>
public sealed class ExactMatchVerifier : IAnswerVerifier
{
    public static ExactMatchVerifier Instance { get; } = new();

    public bool IsCorrect(PromptCompletion example, string generatedCompletion)
    {
        ArgumentNullException.ThrowIfNull(example);
        return Matches(example.Reference, generatedCompletion);
    }

    public static bool Matches(string expected, string generated)
    {
        ArgumentNullException.ThrowIfNull(generated);
        return string.Equals(generated.Trim(), expected, StringComparison.Ordinal);
    }
}

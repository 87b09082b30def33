using RlhfActors.Training.Data;

namespace RlhfActors.Training.Tasks;

/// <summary>"abc|" → "cba": reverse a lower-case word of length uniform in [1, length].</summary>
public sealed class ReverseTask : ISyntheticTask
{
    public const string TaskName = "reverse";
    public static TaskParameter LengthParameter { get; } = new("length", 6, 1, 32);

    public ReverseTask(int length = 6) => Length = LengthParameter.Check(TaskName, length);

    public int Length { get; }
    public string Name => TaskName;

    public PromptCompletion Generate(Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var word = RandomLetters.Draw(rng, Length);
        var reversed = word.ToCharArray();
        Array.Reverse(reversed);
        return new PromptCompletion(word + "|", new string(reversed));
    }

    public bool IsCorrect(PromptCompletion example, string generated) => ExactMatchVerifier.Instance.IsCorrect(example, generated);
}

using RlhfActors.Training.Data;

namespace RlhfActors.Training.Tasks;

/// <summary>"dbca>" → "abcd": sort the letters of a lower-case word (repeats kept) of length uniform in [1, length].</summary>
public sealed class SortTask : ISyntheticTask
{
    public const string TaskName = "sort";
    public static TaskParameter LengthParameter { get; } = new("length", 6, 1, 32);

    public SortTask(int length = 6) => Length = LengthParameter.Check(TaskName, length);

    public int Length { get; }
    public string Name => TaskName;

    public PromptCompletion Generate(Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        var word = RandomLetters.Draw(rng, Length);
        var sorted = word.ToCharArray();
        Array.Sort(sorted);
        return new PromptCompletion(word + ">", new string(sorted));
    }

    public bool IsCorrect(PromptCompletion example, string generated) => ExactMatchVerifier.Instance.IsCorrect(example, generated);
}

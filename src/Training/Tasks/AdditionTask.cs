using System.Globalization;
using RlhfActors.Training.Data;

namespace RlhfActors.Training.Tasks;

/// <summary>"123+45=" → "168". Each operand first draws its number of digits uniformly in [1, digits], then a
/// value with exactly that many digits (0..9 for one digit), so short and long sums are equally common;
/// drawing the value uniformly would make nearly every operand full-length. The sum is written plainly
/// (most significant digit first), not reversed.</summary>
public sealed class AdditionTask : ISyntheticTask
{
    public const string TaskName = "addition";
    public static TaskParameter DigitsParameter { get; } = new("digits", 3, 1, 12);

    public AdditionTask(int digits = 3) => Digits = DigitsParameter.Check(TaskName, digits);

    public int Digits { get; }
    public string Name => TaskName;

    public PromptCompletion Generate(Random rng)
    {
        ArgumentNullException.ThrowIfNull(rng);
        long a = Operand(rng), b = Operand(rng);
        return new PromptCompletion(
            string.Create(CultureInfo.InvariantCulture, $"{a}+{b}="),
            (a + b).ToString(CultureInfo.InvariantCulture));
    }

    public bool IsCorrect(PromptCompletion example, string generated) => ExactMatchVerifier.Instance.IsCorrect(example, generated);

    long Operand(Random rng)
    {
        int digits = rng.Next(1, Digits + 1);
        long low = digits == 1 ? 0 : PowerOfTen(digits - 1);
        return rng.NextInt64(low, PowerOfTen(digits));
    }

    static long PowerOfTen(int exponent)
    {
        long value = 1;
        for (int i = 0; i < exponent; i++) value *= 10;
        return value;
    }
}

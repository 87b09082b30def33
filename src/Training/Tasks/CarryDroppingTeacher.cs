using System.Globalization;
using RlhfActors.Training.Data;

namespace RlhfActors.Training.Tasks;

/// <summary>A deliberately flawed teacher for <see cref="AdditionTask"/> demonstrations: in a chosen fraction of
/// the examples the completion is replaced by the digit-wise sum without carries ("58+67=" → "15" instead of
/// "125"). Examples whose sum has no carry are unchanged either way. Meant only for the SFT demonstrations of a
/// demo where RL with an exact verifier must exceed its teacher; held-out examples and reward references stay exact.</summary>
public static class CarryDroppingTeacher
{
    /// <summary>A copy of <paramref name="examples"/> (addition prompts "a+b=") where each example, independently with
    /// probability <paramref name="fraction"/>, gets the carry-less sum. Deterministic per <paramref name="seed"/>.</summary>
    public static IReadOnlyList<PromptCompletion> Corrupt(IReadOnlyList<PromptCompletion> examples, double fraction, int seed)
    {
        ArgumentNullException.ThrowIfNull(examples);
        if (!(fraction >= 0 && fraction <= 1)) throw new ArgumentOutOfRangeException(nameof(fraction), fraction, "fraction must be in [0, 1]");
        var rng = new Random(seed);
        return examples.Select(e => rng.NextDouble() < fraction ? e with { Completion = SumWithoutCarries(e.Prompt) } : e).ToArray();
    }

    /// <summary>The carry-less digit-wise sum of an "a+b=" prompt, without leading zeros ("0" when every digit sums to 10).</summary>
    public static string SumWithoutCarries(string prompt)
    {
        ArgumentNullException.ThrowIfNull(prompt);
        var parts = prompt.TrimEnd('=').Split('+');
        if (parts.Length != 2 || parts.Any(p => p.Length == 0 || !p.All(char.IsAsciiDigit)))
            throw new ArgumentException($"not an addition prompt 'a+b=': '{prompt}'", nameof(prompt));
        int n = Math.Max(parts[0].Length, parts[1].Length);
        string a = parts[0].PadLeft(n, '0'), b = parts[1].PadLeft(n, '0');
        var digits = new char[n];
        for (int i = 0; i < n; i++) digits[i] = (char)('0' + (a[i] - '0' + b[i] - '0') % 10);
        var sum = new string(digits).TrimStart('0');
        return sum.Length == 0 ? "0" : sum;
    }
}

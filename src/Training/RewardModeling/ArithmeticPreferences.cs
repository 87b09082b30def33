using System.Text.RegularExpressions;
using RlhfActors.Training.Data;
using RlhfActors.Training.Tasks;

namespace RlhfActors.Training.RewardModeling;

/// <summary>
/// Labelled preference pairs made from task examples: the "human labels" of the RLHF demo. A labeller who knows the
/// answer prefers it over a plausible mistake, so chosen = the example's completion and rejected = a wrong answer of
/// the kind a policy actually makes:
/// <list type="bullet">
/// <item>addition ("a+b=" → sum): the carry-dropped sum (<see cref="CarryDroppingTeacher.SumWithoutCarries"/>), the
/// flawed teacher's mistake, when it differs from the sum; otherwise the sum with one digit moved by ±1
/// ("47" → "48" or "37"), never introducing a leading zero;</item>
/// <item>any other task whose completion is the answer (reverse, sort, …): the completion with one character replaced
/// by a different character drawn from the alphabet of all the completions given.</item>
/// </list>
/// Deterministic per seed: pair i depends only on (seed, i) and example i.
/// </summary>
public static partial class ArithmeticPreferences
{
    public static IReadOnlyList<PreferencePair> Build(IReadOnlyList<PromptCompletion> examples, int seed)
    {
        ArgumentNullException.ThrowIfNull(examples);
        var alphabet = examples.SelectMany(e => e.Completion).Distinct().Order().ToArray();
        return examples.Select((e, i) =>
        {
            var rng = new Random(StableSeed.Derive(seed, i));
            var rejected = IsAddition(e) ? WrongSum(e, rng) : Perturbed(e.Completion, alphabet, rng);
            return new PreferencePair(e.Prompt, e.Completion, rejected);
        }).ToArray();
    }

    static bool IsAddition(PromptCompletion e) => AdditionPrompt().IsMatch(e.Prompt) && e.Completion.Length > 0 && e.Completion.All(char.IsAsciiDigit);

    static string WrongSum(PromptCompletion e, Random rng)
    {
        var carryless = CarryDroppingTeacher.SumWithoutCarries(e.Prompt);
        if (carryless != e.Completion) return carryless;
        var digits = e.Completion.ToCharArray();
        int at = rng.Next(digits.Length);
        int d = digits[at] - '0';
        int lowest = at == 0 && digits.Length > 1 ? 1 : 0; // "10" must not become "00"
        int step = rng.Next(2) == 0 ? -1 : 1;
        if (d + step < lowest || d + step > 9) step = -step;
        digits[at] = (char)('0' + d + step);
        return new string(digits);
    }

    static string Perturbed(string completion, char[] alphabet, Random rng)
    {
        if (completion.Length == 0) throw new ArgumentException("an empty completion has no character to perturb");
        if (alphabet.Length < 2) throw new ArgumentException($"the completions use only {alphabet.Length} distinct character(s); a wrong answer needs another one");
        var chars = completion.ToCharArray();
        int at = rng.Next(chars.Length);
        var others = alphabet.Where(c => c != chars[at]).ToArray();
        chars[at] = others[rng.Next(others.Length)];
        return new string(chars);
    }

    [GeneratedRegex(@"^\d+\+\d+=$", RegexOptions.CultureInvariant)]
    private static partial Regex AdditionPrompt();
}

using System.Text.RegularExpressions;
using RlhfActors.Training.Data;
using RlhfActors.Training.Tasks;

namespace RlhfActors.Training.RewardModeling;

/// <summary>
/// Labelled preference pairs made from task examples: the "human labels" of the RLHF demo. A labeller who knows the
/// answer prefers it over a wrong one, so chosen = the example's completion and rejected = a mistake:
/// <list type="bullet">
/// <item>addition ("a+b=" → sum): one of three kinds of wrong answer, drawn uniformly per pair — the carry-dropped sum
/// (<see cref="CarryDroppingTeacher.SumWithoutCarries"/>, the flawed teacher's mistake; when it equals the sum, the next
/// kind instead), the sum with one digit moved by ±1 ("47" → "48" or "37", never a leading zero), or the answer to
/// another prompt of the set.</item>
/// <item>any other task whose completion is the answer (reverse, sort, …): the completion with one character replaced
/// by a different character drawn from the alphabet of all the completions given.</item>
/// </list>
/// Why three kinds: a carry-dropped sum is always smaller than the true sum, so a reward model trained on carry
/// drops alone learns "the bigger answer wins" (measured: PPO on such a model drove exact match from 0.595 to 0.115,
/// answering "108" to every prompt). ±1 digits go both ways, and another prompt's answer makes the size of the answer
/// something the model has to check against the operands: the same care as balancing lengths in preference data so a
/// reward model cannot prefer the longer answer.
/// Deterministic per seed: pair i depends only on (seed, i) and the examples.
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
            var rejected = IsAddition(e) ? WrongSum(e, examples, rng) : Perturbed(e.Completion, alphabet, rng);
            return new PreferencePair(e.Prompt, e.Completion, rejected);
        }).ToArray();
    }

    static bool IsAddition(PromptCompletion e) => AdditionPrompt().IsMatch(e.Prompt) && e.Completion.Length > 0 && e.Completion.All(char.IsAsciiDigit);

    static string WrongSum(PromptCompletion e, IReadOnlyList<PromptCompletion> examples, Random rng)
    {
        switch (rng.Next(3))
        {
            case 0:
                var carryless = CarryDroppingTeacher.SumWithoutCarries(e.Prompt);
                if (carryless != e.Completion) return carryless;
                break;
            case 2:
                // A bounded number of draws: a set whose answers are (nearly) all equal falls back to a ±1 digit.
                for (int attempt = 0; attempt < 8; attempt++)
                {
                    var other = examples[rng.Next(examples.Count)].Completion;
                    if (other != e.Completion && other.Length > 0 && other.All(char.IsAsciiDigit)) return other;
                }
                break;
        }
        return DigitMovedByOne(e.Completion, rng);
    }

    static string DigitMovedByOne(string sum, Random rng)
    {
        var digits = sum.ToCharArray();
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

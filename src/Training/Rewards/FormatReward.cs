using System.Collections.Concurrent;
using System.Text.RegularExpressions;
using RlhfActors.Training.Tasks;

namespace RlhfActors.Training.Rewards;

/// <summary>
/// 1 when the generated completion, trimmed, has the answer's shape, else 0; it does not check correctness.
/// A format reward shapes learning early: a fresh policy almost never hits the exact answer, so exact match alone
/// gives GRPO groups of all-zero rewards and no signal, while "answer in the right alphabet and length" is reachable
/// at once and pulls the policy towards answers that can then be right (DeepSeek-R1 trained with a format reward
/// beside its accuracy reward). Weight it well below correctness (e.g. 0.1–0.2 against 1.0) so a well-formed wrong
/// answer never pays more than a right one.
/// The shape is a regex that must match the whole trimmed completion: per built-in task (<see cref="ForTask"/>), or
/// given in config (<see cref="FromPattern"/>).
/// </summary>
public sealed class FormatReward : IRewardFunction
{
    public const string RewardName = "format";

    // A config pattern runs on model-generated text; a pathological pattern must fail loudly, not hang a sampler.
    static readonly TimeSpan MatchTimeout = TimeSpan.FromSeconds(1);

    // Regex's \d matches every Unicode digit; the tasks' answers use ASCII only.
    static readonly Regex Digits = new(@"\A[0-9]+\z", RegexOptions.CultureInvariant, MatchTimeout);

    static readonly ConcurrentDictionary<int, Regex> LettersOfLength = new();

    static readonly Dictionary<string, Func<string, Regex>> TaskShapes = new(StringComparer.OrdinalIgnoreCase)
    {
        [AdditionTask.TaskName] = _ => Digits,
        [ReverseTask.TaskName] = prompt => WordOfPromptLength(ReverseTask.TaskName, prompt),
        [SortTask.TaskName] = prompt => WordOfPromptLength(SortTask.TaskName, prompt),
    };

    readonly Func<string, Regex> _shapeFor;

    FormatReward(string shape, Func<string, Regex> shapeFor)
    {
        Shape = shape;
        _shapeFor = shapeFor;
    }

    /// <summary>The tasks <see cref="ForTask"/> knows.</summary>
    public static IReadOnlyList<string> TaskNames { get; } = TaskShapes.Keys.ToArray();

    public string Name => RewardName;

    /// <summary>What is checked, for logs: the task's rule or the config pattern.</summary>
    public string Shape { get; }

    /// <summary>The shape of a built-in task's answer: digits only for addition; for reverse and sort, lower-case
    /// letters exactly as many as the prompt's word has (the prompt's lower-case letters, e.g. 3 for "abc|").</summary>
    public static FormatReward ForTask(string taskName)
    {
        ArgumentNullException.ThrowIfNull(taskName);
        if (!TaskShapes.TryGetValue(taskName.Trim(), out var shapeFor))
            throw new ArgumentException(
                $"the '{RewardName}' reward has no built-in shape for task '{taskName}'; known tasks: {string.Join(", ", TaskNames)} " +
                "(or give a 'pattern' arg)", nameof(taskName));
        var name = taskName.Trim().ToLowerInvariant();
        return new FormatReward(name == AdditionTask.TaskName ? $"{name}: digits" : $"{name}: lower-case word of the prompt's length", shapeFor);
    }

    /// <summary>A regex (.NET syntax) that must match the whole trimmed completion; it is anchored here, so
    /// "[0-9]+" means "only digits", not "contains a digit".</summary>
    public static FormatReward FromPattern(string pattern)
    {
        ArgumentNullException.ThrowIfNull(pattern);
        if (pattern.Length == 0) throw new ArgumentException($"the '{RewardName}' reward's pattern is empty", nameof(pattern));
        Regex regex;
        try
        {
            regex = new Regex($@"\A(?:{pattern})\z", RegexOptions.CultureInvariant, MatchTimeout);
        }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"the '{RewardName}' reward's pattern '{pattern}' is not a valid regex: {e.Message}", nameof(pattern), e);
        }
        return new FormatReward($"pattern {pattern}", _ => regex);
    }

    public Task<double[]> ScoreAsync(IReadOnlyList<RewardRequest> batch, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        var scores = new double[batch.Count];
        for (int i = 0; i < batch.Count; i++)
        {
            var request = batch[i] ?? throw new ArgumentException($"batch[{i}] is null", nameof(batch));
            scores[i] = Matches(request) ? 1.0 : 0.0;
        }
        return Task.FromResult(scores);
    }

    /// <summary>True when <paramref name="request"/>'s trimmed completion has the shape.</summary>
    public bool Matches(RewardRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var regex = _shapeFor(request.Prompt);
        try
        {
            return regex.IsMatch(request.Completion.Trim());
        }
        catch (RegexMatchTimeoutException e)
        {
            throw new InvalidOperationException(
                $"the '{RewardName}' reward ({Shape}) took over {MatchTimeout.TotalSeconds} s on a completion of {request.Completion.Length} chars; simplify the pattern", e);
        }
    }

    static Regex WordOfPromptLength(string task, string prompt)
    {
        int letters = prompt.Count(c => c is >= 'a' and <= 'z');
        if (letters == 0)
            throw new ArgumentException(
                $"prompt '{prompt}' has no lower-case word; the '{RewardName}' reward for task '{task}' expects the task's prompts (e.g. \"abc|\")");
        return LettersOfLength.GetOrAdd(letters, n => new Regex($@"\A[a-z]{{{n}}}\z", RegexOptions.CultureInvariant, MatchTimeout));
    }
}

using System.Globalization;

namespace RlhfActors.Training.Rewards;

/// <summary>Reads one reward's config args. Keys match case-insensitively (configs are written by hand); an unknown
/// key or a malformed value is an ArgumentException naming the reward and the arg, so a typo such as "timout_s"
/// never silently falls back to a default.</summary>
sealed class RewardArgs
{
    readonly string _reward;
    readonly IReadOnlyDictionary<string, string> _args;

    public RewardArgs(string reward, IReadOnlyDictionary<string, string>? args, params string[] known)
    {
        _reward = reward;
        _args = args ?? new Dictionary<string, string>();
        foreach (var key in _args.Keys)
            if (!known.Contains(key, StringComparer.OrdinalIgnoreCase))
                throw new ArgumentException(known.Length == 0
                    ? $"reward '{reward}' takes no args, but '{key}' is given"
                    : $"reward '{reward}' has no arg '{key}'; valid args: {string.Join(", ", known)}");
    }

    public string? Optional(string key)
    {
        var values = _args.Where(kv => string.Equals(kv.Key, key, StringComparison.OrdinalIgnoreCase)).Select(kv => kv.Value).ToArray();
        if (values.Length > 1) throw new ArgumentException($"reward '{_reward}' arg '{key}' is given more than once");
        return values.SingleOrDefault();
    }

    public string Required(string key) => Optional(key) is { Length: > 0 } value
        ? value
        : throw new ArgumentException($"reward '{_reward}' needs the arg '{key}'");

    /// <summary>A finite number ≥ <paramref name="min"/>, or <paramref name="fallback"/> when absent.</summary>
    public double Double(string key, double fallback, double min)
    {
        if (Optional(key) is not { } text) return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || !double.IsFinite(value))
            throw new ArgumentException($"reward '{_reward}' arg '{key}' = '{text}' is not a finite number");
        if (value < min) throw new ArgumentException($"reward '{_reward}' arg '{key}' = {text} is below {min.ToString(CultureInfo.InvariantCulture)}");
        return value;
    }

    /// <summary>An integer in [<paramref name="min"/>, <paramref name="max"/>], or <paramref name="fallback"/> when absent.</summary>
    public int Int(string key, int fallback, int min, int max)
    {
        if (Optional(key) is not { } text) return fallback;
        if (!int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value))
            throw new ArgumentException($"reward '{_reward}' arg '{key}' = '{text}' is not an integer");
        if (value < min || value > max) throw new ArgumentException($"reward '{_reward}' arg '{key}' = {value} is out of range {min}..{max}");
        return value;
    }
}

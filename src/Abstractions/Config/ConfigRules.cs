using System.Globalization;

namespace RlhfActors.Abstractions.Config;

/// <summary>Collects the errors of a config's rules. Each section's <c>Validate</c> states its own rules through
/// <see cref="Check"/>: the YAML field, what it must be, and the value it got.</summary>
public sealed class ConfigRules
{
    readonly List<ConfigError> _errors = [];

    public IReadOnlyList<ConfigError> Errors => _errors;

    /// <summary>Records "<paramref name="path"/> <paramref name="rule"/> (got <paramref name="got"/>)" unless
    /// <paramref name="ok"/>.</summary>
    public void Check(bool ok, string path, string rule, object? got)
    {
        if (!ok) _errors.Add(new ConfigError(path, $"{path} {rule} (got {Show(got)})"));
    }

    public void Add(ConfigError error) => _errors.Add(error);

    /// <summary>A count of examples to generate: at least one, at most <paramref name="max"/>.</summary>
    public void CheckCount(int count, string path, int max)
    {
        Check(count > 0, path, "must be > 0", count);
        Check(count <= max, path, $"must be at most {max} (the limit for generated examples)", count);
    }

    static string Show(object? value) => value switch
    {
        null => "nothing",
        string s => $"'{s}'",
        // A config built in code may cast any number into an enum.
        Enum e => Enum.IsDefined(e.GetType(), e) ? $"'{ConfigNames.Yaml(e)}'" : Convert.ToInt64(e, CultureInfo.InvariantCulture).ToString(CultureInfo.InvariantCulture),
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}

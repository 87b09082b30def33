using RlhfActors.Client.Config;

namespace RlhfActors.Tests.Cli;

/// <summary>The config tests' common check: one line of a valid YAML replaced by a bad one must fail to load with an
/// error that starts "file:LINE: " at the replaced line and says <c>expected</c>.</summary>
static class BadField
{
    public static void IsNamedWithItsLine(string yaml, string file, string line, string replacement, string expected)
    {
        var text = yaml.Replace(line + "\n", replacement + "\n");
        Assert.NotEqual(yaml, text);
        var error = Assert.Throws<ConfigLoadException>(() => ExperimentYamlLoader.Parse(text, file));
        var lineNumber = text.Split('\n').ToList().FindIndex(l => l == replacement) + 1;
        Assert.True(error.Errors.Any(e => e.StartsWith($"{file}:{lineNumber}: ", StringComparison.Ordinal) && e.Contains(expected, StringComparison.Ordinal)),
            $"no error at {file}:{lineNumber} saying '{expected}' among:\n{string.Join("\n", error.Errors)}");
    }
}

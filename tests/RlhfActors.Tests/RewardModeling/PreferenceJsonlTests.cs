using RlhfActors.Tests.Data;
using RlhfActors.Training.Data;
using RlhfActors.Training.RewardModeling;

namespace RlhfActors.Tests.RewardModeling;

public sealed class PreferenceJsonlTests : IDisposable
{
    readonly TempDirectory dir = new();
    public void Dispose() => dir.Dispose();

    [Fact]
    public void Reads_pairs_skipping_blank_lines_with_margin_optional()
    {
        var path = dir.Write("prefs.jsonl",
            "{\"prompt\": \"2+3=\", \"chosen\": \"5\", \"rejected\": \"6\"}\n\n" +
            "{\"prompt\": \"abc\", \"chosen\": \"cba\", \"rejected\": \"cab\", \"margin\": 1.5}\n");
        var pairs = PreferenceJsonl.ReadPreferencePairs(path);
        Assert.Equal(
            [new MarginedPreference(new PreferencePair("2+3=", "5", "6"), 0), new MarginedPreference(new PreferencePair("abc", "cba", "cab"), 1.5)],
            pairs);
    }

    [Theory]
    [InlineData("{\"prompt\": \"p\", \"chosen\": \"c\"}", "field 'rejected' is missing")]
    [InlineData("{\"prompt\": \"p\", \"chosen\": 3, \"rejected\": \"r\"}", "field 'chosen' must be a string")]
    [InlineData("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\", \"margin\": \"big\"}", "field 'margin' must be a finite number")]
    [InlineData("{\"prompt\": \"p\", \"chosen\": ", "not valid JSON")]
    [InlineData("[1, 2]", "expected a JSON object")]
    public void A_bad_line_is_refused_naming_path_line_and_field(string badLine, string why)
    {
        var path = dir.Write("prefs.jsonl", "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n" + badLine + "\n");
        var e = Assert.Throws<InvalidDataException>(() => PreferenceJsonl.ReadPreferencePairs(path));
        Assert.StartsWith($"{path}:2: ", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void Bytes_that_are_not_UTF8_are_refused_at_their_line()
    {
        var path = Path.Combine(dir.Path, "latin1.jsonl");
        File.WriteAllBytes(path, [.. "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n{\"prompt\": \""u8, 0xFF, .. "\", \"chosen\": \"c\", \"rejected\": \"r\"}\n"u8]);
        var e = Assert.Throws<InvalidDataException>(() => PreferenceJsonl.ReadPreferencePairs(path));
        Assert.Equal($"{path}:2: not valid UTF-8 (byte 0xFF at byte 13 of the line)", e.Message);
    }

    [Fact]
    public void With_the_char_tokenizer_a_character_it_lacks_is_refused_at_its_line()
    {
        var path = dir.Write("prefs.jsonl", "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"naïve\"}\n");
        Assert.Equal(2, PreferenceJsonl.ReadPreferencePairs(path).Count);
        var e = Assert.Throws<InvalidDataException>(() => PreferenceJsonl.ReadPreferencePairs(path, charTokenizer: true));
        Assert.StartsWith($"{path}:2: character 'ï' (U+00EF) is not in the char tokenizer's vocabulary", e.Message);
        Assert.EndsWith("of field 'rejected'", e.Message);
    }

    [Fact]
    public void An_empty_file_is_refused()
    {
        var path = dir.Write("empty.jsonl", "\n  \n");
        var e = Assert.Throws<InvalidDataException>(() => PreferenceJsonl.ReadPreferencePairs(path));
        Assert.Contains(path, e.Message);
        Assert.Contains("no preference pairs", e.Message);
    }
}

using RlhfActors.Tests.Cli;
using RlhfActors.Tests.Data;
using RlhfActors.Training.Data;
using RlhfActors.Training.Preference;

namespace RlhfActors.Tests.Preference;

/// <summary>KTO's JSONL: TRL's unpaired form, or pairs unpaired; every bad line named by path, line and field.</summary>
public sealed class KtoJsonlTests : IDisposable
{
    readonly TempDirectory dir = new();
    public void Dispose() => dir.Dispose();

    [Fact]
    public void Reads_unpaired_examples_skipping_blank_lines()
    {
        var path = dir.Write("kto.jsonl",
            "{\"prompt\": \"2+3=\", \"completion\": \"5\", \"label\": true}\n\n{\"prompt\": \"2+3=\", \"completion\": \"6\", \"label\": false}\n");
        Assert.Equal([new KtoExample("2+3=", "5", true), new KtoExample("2+3=", "6", false)], KtoJsonl.ReadExamples(path));
    }

    [Fact]
    public void A_file_of_pairs_is_unpaired_as_trl_unpairs_it()
    {
        var path = dir.Write("pairs.jsonl",
            "{\"prompt\": \"1+1=\", \"chosen\": \"2\", \"rejected\": \"3\"}\n{\"chosen\": \"2+2=4\", \"rejected\": \"2+2=5\"}\n");
        Assert.Equal([new KtoExample("1+1=", "2", true), new KtoExample("2+2=", "4", true), new KtoExample("1+1=", "3", false), new KtoExample("2+2=", "5", false)],
            KtoJsonl.ReadExamples(path));
    }

    [Theory]
    [InlineData("{\"prompt\": \"p\", \"completion\": \"c\"}", "field 'label' is missing")]
    [InlineData("{\"prompt\": \"p\", \"completion\": \"c\", \"label\": \"yes\"}", "field 'label' must be true or false, found String")]
    [InlineData("{\"prompt\": \"p\", \"completion\": 3, \"label\": true}", "field 'completion' must be a string")]
    [InlineData("{\"completion\": \"c\", \"label\": true}", "field 'prompt' is missing")]
    [InlineData("{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}", "a pair ('chosen', 'rejected') in a file of unpaired examples")]
    [InlineData("{\"prompt\": [{\"role\": \"user\", \"content\": \"hi\"}], \"completion\": [{\"role\": \"assistant\", \"content\": \"yo\"}], \"label\": true}", "needs the model's chat template")]
    [InlineData("{\"prompt\": \"p\", \"completion\": ", "not valid JSON")]
    public void A_bad_line_is_refused_naming_path_line_and_field(string badLine, string why)
    {
        var path = dir.Write("kto.jsonl", "{\"prompt\": \"p\", \"completion\": \"c\", \"label\": true}\n" + badLine + "\n");
        var e = Assert.Throws<InvalidDataException>(() => KtoJsonl.ReadExamples(path));
        Assert.StartsWith($"{path}:2: ", e.Message);
        Assert.Contains(why, e.Message);
    }

    [Fact]
    public void An_unpaired_line_in_a_file_of_pairs_and_an_unencodable_completion_are_refused()
    {
        var mixed = dir.Write("mixed.jsonl", "{\"prompt\": \"p\", \"chosen\": \"c\", \"rejected\": \"r\"}\n{\"prompt\": \"p\", \"completion\": \"c\", \"label\": true}\n");
        Assert.Contains($"{mixed}:2: an unpaired example ('completion', 'label') in a file of pairs",
            Assert.Throws<InvalidDataException>(() => KtoJsonl.ReadExamples(mixed)).Message);
        var emoji = dir.Write("emoji.jsonl", "{\"prompt\": \"p\", \"completion\": \"c\\ud83d\\ude00\", \"label\": true}\n");
        var e = Assert.Throws<InvalidDataException>(() => KtoJsonl.ReadExamples(emoji, charTokenizer: true));
        Assert.StartsWith($"{emoji}:1: ", e.Message);
        Assert.Contains("field 'completion'", e.Message);
        Assert.Contains("no examples", Assert.Throws<InvalidDataException>(() => KtoJsonl.ReadExamples(dir.Write("blank.jsonl", "\n\n"))).Message);
    }
}

/// <summary><c>rlhf run</c> reads a KTO examples file before anything starts: exit 2, file, line and field named.</summary>
public sealed class KtoEarlyChecksTests : IDisposable
{
    readonly TempFolder _folder = new();
    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_bad_line_in_a_kto_examples_file_is_refused_before_the_warm_up()
    {
        var output = Path.Combine(_folder.Path, "out");
        var train = _folder.Write("kto.jsonl", "{\"prompt\": \"12+3=\", \"completion\": \"15\", \"label\": true}\n{\"prompt\": \"1+1=\", \"completion\": \"3\", \"label\": 0}\n");
        var eval = _folder.Write("eval.jsonl", "{\"prompt\": \"2+2=\", \"chosen\": \"4\", \"rejected\": \"5\"}\n");
        var file = _folder.Write("kto.yaml", TinyYaml.Text(output).Replace("algorithm: sft", "algorithm: dpo")
            + $"\ndpo:\n  steps: 5\n  loss_type: kto\n  pairs:\n    train_file: {train}\n    eval_file: {eval}\n");
        var run = await CliRunner.RunAsync("run", file, "--json");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("dpo.pairs", run.Stderr);
        Assert.Contains($"{train}:2: field 'label' must be true or false", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.False(Directory.Exists(output), "the refused run wrote its output folder");
    }
}

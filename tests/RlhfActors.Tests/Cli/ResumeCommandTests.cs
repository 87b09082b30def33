using static RlhfActors.Tests.IO.CheckpointDigest;
using System.Text.Json;

namespace RlhfActors.Tests.Cli;

/// <summary><c>rlhf run x.yaml --resume</c>: a run whose process (or whole cluster) went away continues from the newest
/// checkpoint in its output_dir, only under the config it was trained with.</summary>
public sealed class ResumeCommandTests
{
    static string Yaml(string outputDir, string learningRate = "0.01")
    {
        var text = TinyYaml.Text(outputDir);
        text = TinyYaml.With(text, "  every: 0", "  every: 10\n  keep: 0");
        return TinyYaml.With(text, "  learning_rate: 0.01", $"  learning_rate: {learningRate}");
    }

    [Fact]
    public async Task A_run_resumes_from_its_newest_checkpoint_and_ends_as_if_uninterrupted_but_not_under_another_config()
    {
        using var folder = new TempFolder();
        var output = Path.Combine(folder.Path, "out");
        var yaml = folder.Write("x.yaml", Yaml(output));

        var first = await CliRunner.RunAsync("run", yaml, "--json");
        Assert.True(first.ExitCode == 0, first.ToString());
        var final = Path.Combine(output, "checkpoint-30");
        var expected = WeightsSha256(final);

        // As if the process had died after step 20's checkpoint.
        Directory.Delete(final, recursive: true);

        var plain = await CliRunner.RunAsync("run", yaml);
        Assert.True(plain.ExitCode == 2, plain.ToString());
        Assert.Contains("continue that run with --resume", plain.Stderr);

        var changed = await CliRunner.RunAsync("run", folder.Write("changed.yaml", Yaml(output, learningRate: "0.02")), "--resume");
        Assert.True(changed.ExitCode == 2, changed.ToString());
        Assert.Contains("sft.learning_rate: 0.01 in checkpoint-20, 0.02 now", changed.Stderr);

        var resumed = await CliRunner.RunAsync("run", yaml, "--resume", "--json");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        var result = JsonDocument.Parse(resumed.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1]).RootElement;
        Assert.Equal(30, result.GetProperty("steps").GetInt32());
        Assert.Equal(final, result.GetProperty("checkpoint").GetString());
        Assert.Equal(expected, WeightsSha256(final));
    }

    [Fact]
    public async Task Resume_without_a_checkpoint_is_refused()
    {
        using var folder = new TempFolder();
        var run = await CliRunner.RunAsync("run", folder.Write("x.yaml", Yaml(Path.Combine(folder.Path, "empty"))), "--resume");
        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("holds no checkpoint to resume from", run.Stderr);
    }
}

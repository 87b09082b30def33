using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Grains.Experiments;
using RlhfActors.Tests.Cli;

namespace RlhfActors.Tests.Grains;

/// <summary>output_dir is claimed by its run when it starts: a lock file created exclusively, which is also the
/// start's writability check.</summary>
[Collection(ClusterCollection.Name)]
public sealed class OutputDirectoryClaimTests(ClusterFixture fixture)
{
    static string NewName(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    [Fact]
    public async Task An_output_dir_that_cannot_be_written_is_refused_at_start_before_any_training()
    {
        using var folder = new TempFolder();
        // A folder below a regular file cannot be created, whoever runs the tests (root included).
        var file = folder.Write("not-a-folder", "x");
        var config = TinyExperiment.Create(NewName("unwritable")) with { OutputDir = Path.Combine(file, "out") };
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);

        var error = await Assert.ThrowsAsync<ArgumentException>(() => grain.Start(config));

        Assert.Contains($"output_dir '{config.OutputDir}' cannot be written", error.Message);
        Assert.Equal(ExperimentState.Pending, (await grain.GetStatus()).State);
    }

    [Fact]
    public async Task A_second_experiment_naming_the_same_output_dir_is_refused_and_the_first_may_claim_it_again()
    {
        var first = TinyExperiment.Create(NewName("claim-a"));
        var second = TinyExperiment.Create(NewName("claim-b")) with { OutputDir = first.OutputDir };
        try
        {
            OutputDirectoryClaim.Claim(first.OutputDir, first.Name);
            OutputDirectoryClaim.Claim(first.OutputDir, first.Name); // the holder again: fine

            var error = await Assert.ThrowsAsync<InvalidOperationException>(() => fixture.Client.GetGrain<IExperimentGrain>(second.Name).Start(second));

            Assert.Contains($"is claimed by experiment '{first.Name}'", error.Message);
            Assert.Equal(first.Name, OutputDirectoryClaim.ReadHolder(Path.Combine(first.OutputDir, OutputDirectoryClaim.LockFileName)));
        }
        finally
        {
            if (Directory.Exists(first.OutputDir)) Directory.Delete(first.OutputDir, recursive: true);
        }
    }

    [Fact]
    public async Task Rlhf_run_exits_2_for_an_unwritable_output_dir()
    {
        using var folder = new TempFolder();
        var file = folder.Write("not-a-folder", "x");
        var yaml = folder.Write("x.yaml", TinyYaml.Text(Path.Combine(file, "out")));

        var run = await CliRunner.RunAsync("run", yaml);

        Assert.True(run.ExitCode == 2, run.ToString());
        Assert.Contains("cannot be written", run.Stderr);
        Assert.DoesNotContain("   at ", run.Stderr);
    }
}

using System.Text.Json;
using RlhfActors.Tests.Cli;
using RlhfActors.Tests.IO;
using RlhfActors.Training.Rollouts.Traces;

namespace RlhfActors.Tests.Traces;

/// <summary><c>rlhf rollouts</c> in-process on a run folder holding traces.</summary>
public sealed class RolloutsCommandTests : IDisposable
{
    readonly TempDirectory _run = new();

    public RolloutsCommandTests()
    {
        var writer = RolloutTraceWriter.Open(TraceFiles.FolderIn(_run.Path), 1 << 20, 1 << 30, TracePosition.None);
        writer.Append(TraceSamples.Batch(3));
        writer.Append(TraceSamples.Batch(4));
    }

    public void Dispose() => _run.Dispose();

    [Fact]
    public async Task Prints_each_row_with_step_version_reward_prompt_and_completion()
    {
        var run = await CliRunner.RunAsync("rollouts", _run.Path);
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("step 3 · grpo · version 103 · row 1/2 · sampler 1 · reward 1.5 (exact_match 1, format 0.25) · truncated", run.Stdout);
        Assert.Contains("  prompt:     3+1=", run.Stdout);
        Assert.Contains("  completion: 4", run.Stdout);
        Assert.Contains("  completion: ünïcode ✓\n              line 2", run.Stdout);
        Assert.Contains("step 4 · grpo", run.Stdout);
    }

    [Fact]
    public async Task Jsonl_gives_one_object_per_row_and_step_keeps_one_batch()
    {
        var run = await CliRunner.RunAsync("rollouts", _run.Path, "--step", "4", "--jsonl");
        Assert.True(run.ExitCode == 0, run.ToString());
        var rows = run.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement).ToArray();
        Assert.Equal(2, rows.Length);
        Assert.All(rows, r => Assert.Equal(4, r.GetProperty("step").GetInt32()));
        Assert.Equal(104, rows[1].GetProperty("policy_version").GetInt64());
        Assert.Equal(1.5, rows[1].GetProperty("reward").GetDouble());
        Assert.Equal(0.25, rows[1].GetProperty("reward_components").GetProperty("format").GetDouble());
        Assert.Equal([1000, 1001, 1002], rows[1].GetProperty("completion_ids").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(JsonValueKind.Null, rows[0].GetProperty("reward").ValueKind);
        Assert.Equal(-0.1f, rows[0].GetProperty("behaviour_logprobs")[0].GetSingle());
    }

    [Fact]
    public async Task The_rollouts_folder_itself_is_accepted_too()
    {
        var run = await CliRunner.RunAsync("rollouts", TraceFiles.FolderIn(_run.Path), "--step", "3");
        Assert.True(run.ExitCode == 0, run.ToString());
        Assert.Contains("step 3 · grpo", run.Stdout);
        Assert.DoesNotContain("step 4", run.Stdout);
    }

    [Fact]
    public async Task A_missing_folder_or_one_without_traces_is_a_usage_error()
    {
        var missing = await CliRunner.RunAsync("rollouts", Path.Combine(_run.Path, "nope"));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("is not a folder", missing.Stderr);

        using var empty = new TempDirectory();
        var none = await CliRunner.RunAsync("rollouts", empty.Path);
        Assert.Equal(2, none.ExitCode);
        Assert.Contains("holds no rollout traces", none.Stderr);
        Assert.Contains("trace_rollouts", none.Stderr);
    }
}

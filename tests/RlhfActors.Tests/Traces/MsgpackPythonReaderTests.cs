using System.Diagnostics;
using System.Text.Json.Nodes;
using RlhfActors.Tests.IO;
using RlhfActors.Training.Rollouts.Traces;

namespace RlhfActors.Tests.Traces;

/// <summary>The trace format read by an independent reader: Python's msgpack (Debian's python3-msgpack, which
/// .ci/run installs), as docs/rollout-traces.md shows it. The writer's files go in; what Python decodes comes back
/// as JSON and is compared field by field with what was written.</summary>
public sealed class MsgpackPythonReaderTests : IDisposable
{
    // The docs' snippet, printing every record as JSON.
    const string Script = """
        import glob, json, sys
        import msgpack

        records = []
        for path in sorted(glob.glob(sys.argv[1] + "/rollouts-*.msgpack")):
            with open(path, "rb") as f:
                for record in msgpack.Unpacker(f, raw=False):
                    records.append(record)
        print(json.dumps(records))
        """;

    readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    [Fact]
    public void Python_msgpack_reads_every_field_as_written()
    {
        var folder = TraceFiles.FolderIn(_dir.Path);
        var size = TraceSamples.SizeOf(TraceSamples.Batch(1));
        // Rotation too: the reader follows the files in name order.
        var writer = RolloutTraceWriter.Open(folder, size, 1 << 30, TracePosition.None);
        var written = Enumerable.Range(1, 3).Select(s => TraceSamples.Batch(s)).ToArray();
        foreach (var record in written) writer.Append(record);
        Assert.Equal(3, TraceFiles.List(folder).Count);

        var read = RunPython(folder).AsArray();
        Assert.Equal(written.Length, read.Count);
        foreach (var (expected, actual) in written.Zip(read))
        {
            var record = actual!.AsObject();
            Assert.Equal(["format", "step", "stage", "policy_version", "group_size", "time", "rows"], record.Select(p => p.Key));
            Assert.Equal(RolloutTraceRecord.CurrentFormat, (int)record["format"]!);
            Assert.Equal(expected.Step, (int)record["step"]!);
            Assert.Equal(expected.Stage, (string)record["stage"]!);
            Assert.Equal(expected.PolicyVersion, (long)record["policy_version"]!);
            Assert.Equal(expected.GroupSize, (int)record["group_size"]!);
            Assert.Equal(expected.Time, (string)record["time"]!);
            var rows = record["rows"]!.AsArray();
            Assert.Equal(expected.Rows.Length, rows.Count);
            foreach (var (row, json) in expected.Rows.Zip(rows))
            {
                var r = json!.AsObject();
                Assert.Equal(row.Sampler, (int)r["sampler"]!);
                Assert.Equal(row.Prompt, (string)r["prompt"]!);
                Assert.Equal(row.Completion, (string)r["completion"]!);
                Assert.Equal(row.PromptIds, r["prompt_ids"]!.AsArray().Select(v => (int)v!));
                Assert.Equal(row.CompletionIds, r["completion_ids"]!.AsArray().Select(v => (int)v!));
                Assert.Equal(row.Reference, (string?)r["reference"]);
                Assert.Equal(row.Truncated, (bool)r["truncated"]!);
                Assert.Equal(row.Reward, (double?)r["reward"]);
                if (row.RewardComponents is null) Assert.Null(r["reward_components"]);
                else Assert.Equal(row.RewardComponents, r["reward_components"]!.AsObject().ToDictionary(p => p.Key, p => (double)p.Value!));
                // float32 on the wire: Python's float is that float32 exactly.
                Assert.Equal(row.BehaviourLogProbs, r["behaviour_logprobs"]!.AsArray().Select(v => (float)(double)v!));
                if (row.ReferenceLogProbs is null) Assert.Null(r["reference_logprobs"]);
                else Assert.Equal(row.ReferenceLogProbs, r["reference_logprobs"]!.AsArray().Select(v => (float)(double)v!));
            }
        }
    }

    /// <summary>Debian's python3 when there is one: a python3 earlier on PATH (pyenv) lacks Debian's packages.</summary>
    static string Python => File.Exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

    static JsonNode RunPython(string folder)
    {
        var start = new ProcessStartInfo(Python, ["-c", Script, folder])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using var process = Process.Start(start) ?? throw new InvalidOperationException($"{Python} did not start");
        try
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (!process.WaitForExit(TimeSpan.FromSeconds(60))) throw new TimeoutException("the msgpack reader ran over 60 s");
            Assert.True(process.ExitCode == 0, $"{Python} exited {process.ExitCode} (is python3-msgpack installed?): {stderr.Result}");
            return JsonNode.Parse(stdout.Result)!;
        }
        finally
        {
            if (!process.HasExited) process.Kill(entireProcessTree: true);
        }
    }
}

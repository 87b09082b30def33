using RlhfActors.Tests.IO;
using RlhfActors.Training.Rollouts.Traces;

namespace RlhfActors.Tests.Traces;

public sealed class RolloutTraceWriterTests : IDisposable
{
    readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    string Folder => TraceFiles.FolderIn(_dir.Path);

    [Fact]
    public void Records_read_back_as_written_in_order()
    {
        var writer = RolloutTraceWriter.Open(Folder, 1 << 20, 1 << 30, TracePosition.None);
        var written = Enumerable.Range(1, 3).Select(s => TraceSamples.Batch(s)).ToArray();
        foreach (var record in written) Assert.Equal(TraceAppend.Written, writer.Append(record));

        var read = RolloutTraceReader.Read(Folder).ToArray();
        Assert.Equal(written.Select(r => r.Step), read.Select(r => r.Step));
        var row = read[0].Rows[1];
        var expected = written[0].Rows[1];
        Assert.Equal(expected.Completion, row.Completion);
        Assert.Equal(expected.CompletionIds, row.CompletionIds);
        Assert.Equal(expected.BehaviourLogProbs, row.BehaviourLogProbs);
        Assert.Equal(expected.ReferenceLogProbs, row.ReferenceLogProbs);
        Assert.Equal(expected.RewardComponents, row.RewardComponents);
        Assert.Null(read[0].Rows[0].Reward);
        Assert.Null(read[0].Rows[0].ReferenceLogProbs);
        Assert.Equal(new TracePosition(1, new FileInfo(TraceFiles.PathOf(Folder, 1)).Length), writer.Position);
    }

    [Fact]
    public void A_file_is_closed_and_the_next_started_when_a_record_would_take_it_past_the_size()
    {
        var size = TraceSamples.SizeOf(TraceSamples.Batch(1));
        // Room for two records of this size per file, not three.
        var writer = RolloutTraceWriter.Open(Folder, 2 * size + size / 2, 1 << 30, TracePosition.None);
        for (int step = 1; step <= 5; step++) writer.Append(TraceSamples.Batch(step));

        var files = TraceFiles.List(Folder);
        Assert.Equal([1, 2, 3], files.Select(f => f.Index));
        Assert.All(files.Take(2), f => Assert.Equal(2 * size, new FileInfo(f.Path).Length));
        Assert.Equal(size, new FileInfo(files[2].Path).Length);
        Assert.Equal([1, 2], RolloutTraceReader.ReadFile(files[0].Path).Select(r => r.Step));
        Assert.Equal(5 * size, writer.TotalBytes);
        Assert.Equal(new TracePosition(3, size), writer.Position);
    }

    [Fact]
    public void A_record_larger_than_a_file_gets_a_file_of_its_own()
    {
        var writer = RolloutTraceWriter.Open(Folder, 64, 1 << 30, TracePosition.None);
        writer.Append(TraceSamples.Batch(1));
        writer.Append(TraceSamples.Batch(2));
        Assert.Equal(2, TraceFiles.List(Folder).Count);
        Assert.Equal([1, 2], RolloutTraceReader.Read(Folder).Select(r => r.Step));
    }

    [Fact]
    public void The_cap_refuses_the_record_that_would_pass_it_says_so_once_and_writes_nothing_after()
    {
        var size = TraceSamples.SizeOf(TraceSamples.Batch(1));
        var writer = RolloutTraceWriter.Open(Folder, size, 3 * size + size / 2, TracePosition.None);
        var outcomes = Enumerable.Range(1, 6).Select(step => writer.Append(TraceSamples.Batch(step))).ToArray();

        Assert.Equal([TraceAppend.Written, TraceAppend.Written, TraceAppend.Written, TraceAppend.CapReached, TraceAppend.Capped, TraceAppend.Capped], outcomes);
        Assert.True(writer.CapReached);
        Assert.Equal(3 * size, writer.TotalBytes);
        Assert.Equal(3 * size, TraceFiles.List(Folder).Sum(f => new FileInfo(f.Path).Length));
        Assert.Equal([1, 2, 3], RolloutTraceReader.Read(Folder).Select(r => r.Step));
    }

    [Fact]
    public void A_resume_deletes_the_files_after_its_position_and_cuts_its_file_back()
    {
        var size = TraceSamples.SizeOf(TraceSamples.Batch(1));
        var first = RolloutTraceWriter.Open(Folder, 2 * size, 1 << 30, TracePosition.None);
        for (int step = 1; step <= 3; step++) first.Append(TraceSamples.Batch(step));
        var checkpoint = first.Position; // file 2 holding step 3
        for (int step = 4; step <= 7; step++) first.Append(TraceSamples.Batch(step));
        Assert.Equal(4, TraceFiles.List(Folder).Count);

        var resumed = RolloutTraceWriter.Open(Folder, 2 * size, 1 << 30, checkpoint);
        Assert.Equal([1, 2], TraceFiles.List(Folder).Select(f => f.Index));
        Assert.Equal([1, 2, 3], RolloutTraceReader.Read(Folder).Select(r => r.Step));
        Assert.Equal(3 * size, resumed.TotalBytes);
        // The steps after the checkpoint are traced again, once.
        for (int step = 4; step <= 7; step++) resumed.Append(TraceSamples.Batch(step));
        Assert.Equal([1, 2, 3, 4, 5, 6, 7], RolloutTraceReader.Read(Folder).Select(r => r.Step));
    }

    [Fact]
    public void A_new_run_deletes_the_earlier_runs_traces()
    {
        var writer = RolloutTraceWriter.Open(Folder, 1 << 20, 1 << 30, TracePosition.None);
        writer.Append(TraceSamples.Batch(1));
        RolloutTraceWriter.Open(Folder, 1 << 20, 1 << 30, TracePosition.None);
        Assert.Empty(TraceFiles.List(Folder));
    }

    [Fact]
    public void A_torn_last_record_is_not_read_and_the_next_append_cuts_it_off()
    {
        var writer = RolloutTraceWriter.Open(Folder, 1 << 20, 1 << 30, TracePosition.None);
        writer.Append(TraceSamples.Batch(1));
        var path = TraceFiles.PathOf(Folder, 1);
        // A run killed while writing step 2's record.
        var torn = MessagePack.MessagePackSerializer.Serialize(TraceSamples.Batch(2), TraceFiles.Write);
        using (var stream = new FileStream(path, FileMode.Append)) stream.Write(torn, 0, torn.Length / 2);
        Assert.Equal([1], RolloutTraceReader.Read(Folder).Select(r => r.Step));

        writer.Append(TraceSamples.Batch(3));
        Assert.Equal([1, 3], RolloutTraceReader.Read(Folder).Select(r => r.Step));
    }

    [Fact]
    public void Bad_data_is_an_error_naming_the_file_and_offset()
    {
        Directory.CreateDirectory(Folder);
        File.WriteAllBytes(TraceFiles.PathOf(Folder, 1), [0x93, 0x01, 0x02, 0x03]); // a msgpack array, not a record
        var error = Assert.Throws<InvalidDataException>(() => RolloutTraceReader.Read(Folder).ToArray());
        Assert.Contains("rollouts-000001.msgpack", error.Message);
        Assert.Contains("byte 0", error.Message);
    }

    [Fact]
    public void Which_steps_are_traced_depends_on_the_seed_and_step_alone()
    {
        var steps = Enumerable.Range(1, 2000).ToArray();
        var traced = steps.Where(s => TraceSampling.Covers(0.25, 7, s)).ToArray();
        Assert.Equal(traced, steps.Where(s => TraceSampling.Covers(0.25, 7, s)));
        Assert.InRange(traced.Length, 400, 600);
        Assert.NotEqual(traced, steps.Where(s => TraceSampling.Covers(0.25, 8, s)));
        Assert.All(steps, s => Assert.True(TraceSampling.Covers(1, 7, s)));
        Assert.DoesNotContain(steps, s => TraceSampling.Covers(0, 7, s));
    }
}

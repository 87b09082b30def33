using RlhfActors.Training.Metrics;

namespace RlhfActors.Tests.Metrics;

/// <summary>metrics.jsonl: whole lines only, cut back exactly, read from an offset or from the tail.</summary>
public sealed class MetricsFileTests : IDisposable
{
    readonly string _folder = Directory.CreateTempSubdirectory("rlhf-metrics-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    static MetricsLine Line(int step, double loss) =>
        new(step, "sft", DateTimeOffset.UnixEpoch.AddSeconds(step), step * 0.5, step / 10, new Dictionary<string, double> { ["loss"] = loss });

    [Fact]
    public void Lines_round_trip_and_a_torn_last_line_is_not_read_and_is_cut_back()
    {
        var path = MetricsFile.PathIn(_folder);
        var length = MetricsFile.Append(path, [Line(10, 1.5), Line(20, 0.75)]);
        Assert.Equal(new FileInfo(path).Length, length);
        File.AppendAllText(path, "{\"step\":30,\"sta"); // a kill mid-write

        var lines = MetricsFile.Read(path);
        Assert.Equal([10, 20], lines.Select(l => l.Step));
        Assert.Equal(0.75, lines[1]["loss"]);
        Assert.Null(lines[1]["kl"]);
        Assert.Equal(2, lines[1].PolicyVersion);

        MetricsFile.TruncateTo(path, long.MaxValue);
        Assert.Equal(length, new FileInfo(path).Length);
        // A length inside a line cuts back to the line before it.
        MetricsFile.TruncateTo(path, length - 3);
        Assert.Equal([10], MetricsFile.Read(path).Select(l => l.Step));
    }

    [Fact]
    public void Text_reads_from_an_offset_and_from_the_tail()
    {
        var path = MetricsFile.PathIn(_folder);
        MetricsFile.Append(path, Enumerable.Range(1, 100).Select(i => Line(i, i)));
        var (first, next) = MetricsFile.ReadText(path, 0, 200);
        var firstLines = MetricsFile.Parse(first, path);
        Assert.NotEmpty(firstLines);
        var (rest, end) = MetricsFile.ReadText(path, next, int.MaxValue);
        Assert.Equal(Enumerable.Range(1, 100), firstLines.Concat(MetricsFile.Parse(rest, path)).Select(l => l.Step));
        Assert.Equal(new FileInfo(path).Length, end);

        var (tail, _) = MetricsFile.ReadText(path, 0, 0, tailLines: 7);
        Assert.Equal(Enumerable.Range(94, 7), MetricsFile.Parse(tail, path).Select(l => l.Step));
    }

    [Fact]
    public void A_line_that_is_not_a_metrics_line_is_named_by_file_and_line()
    {
        var path = MetricsFile.PathIn(_folder);
        MetricsFile.Append(path, [Line(1, 1)]);
        File.AppendAllText(path, "{\"stage\":\"sft\"}\n");
        var error = Assert.Throws<InvalidDataException>(() => MetricsFile.Read(path));
        Assert.Contains($"{path}:2", error.Message);
    }

    [Fact]
    public void Non_finite_figures_are_left_out_of_the_line()
    {
        var line = new MetricsLine(3, "grpo", DateTimeOffset.UnixEpoch, 1, 1, new Dictionary<string, double> { ["loss"] = double.NaN, ["kl"] = 0.5 });
        Assert.Equal("{\"step\":3,\"stage\":\"grpo\",\"time\":\"1970-01-01T00:00:00.000Z\",\"wall_s\":1,\"policy_version\":1,\"kl\":0.5}", line.ToJson());
    }
}

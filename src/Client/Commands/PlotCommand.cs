using System.CommandLine;
using System.Globalization;
using RlhfActors.Client.Progress;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf plot &lt;run&gt;... [--out dir]</c>: PNG charts of runs' metrics histories (<see cref="MetricsCharts"/>),
/// several runs overlaid. A run is an output folder (its metrics.jsonl) or a metrics.jsonl file. Every run is read
/// before anything is written, so a bad path or a malformed line (exit 2) leaves nothing behind; each PNG is then
/// written atomically. On a terminal a status line shows the reading and drawing of a large run.
/// </summary>
public static class PlotCommand
{
    public static Command Create(CliContext cli)
    {
        var runs = new Argument<string[]>("run")
        {
            Description = "A run's output folder (holding metrics.jsonl) or a metrics.jsonl file; several are overlaid",
            Arity = ArgumentArity.OneOrMore,
        };
        var output = new Option<string?>("--out") { Description = "Folder for the PNGs (default: <first run>/charts)" };
        var command = new Command("plot", "Draw PNG charts (loss, reward, KL, held-out accuracy, ...) of one or more runs' metrics") { runs, output };
        command.SetAction(parse => Execute(parse.GetValue(runs)!, parse.GetValue(output), cli));
        return command;
    }

    static int Execute(string[] arguments, string? output, CliContext cli)
    {
        var status = new StatusLine(cli.Stdout, cli.StdoutIsTerminal);
        List<ChartRun> runs;
        try
        {
            runs = [.. arguments.Select(argument => Read(argument, status))];
        }
        catch (Exception e) when (e is FileNotFoundException or InvalidDataException or UnauthorizedAccessException or IOException)
        {
            status.Clear();
            cli.Stderr.WriteLine($"error: plot: {e.Message}");
            return ExitCodes.Usage;
        }
        runs = Distinct(runs, arguments);
        var folder = Path.GetFullPath(output ?? Path.Combine(Path.GetDirectoryName(runs[0].MetricsPath)!, MetricsCharts.FolderName));

        IReadOnlyList<string> written;
        try
        {
            written = MetricsCharts.Write(runs, folder, (done, total, path) =>
                status.Show($"plot: drawing chart {done}/{total} ({Path.GetFileName(path)})"));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            status.Clear();
            cli.Stderr.WriteLine($"error: plot: could not write the charts to {folder}: {e.Message}");
            return ExitCodes.Failed;
        }
        status.Clear();

        var lines = runs.Sum(r => r.Lines.Count);
        if (written.Count == 0)
        {
            cli.Stdout.WriteLine($"no charts: the {Plural(runs.Count, "run")} ({Plural(lines, "metrics line")}) hold no figures yet");
            return ExitCodes.Ok;
        }
        foreach (var path in written) cli.Stdout.WriteLine(path);
        cli.Stdout.WriteLine($"{Plural(written.Count, "chart")} of {Plural(runs.Count, "run")} ({Plural(lines, "metrics line")}) in {folder}");
        return ExitCodes.Ok;
    }

    static ChartRun Read(string argument, StatusLine status)
    {
        var path = ChartRun.MetricsPathOf(argument);
        var megabytes = new FileInfo(path).Length / 1e6;
        status.Show($"plot: reading {path} ({megabytes.ToString("F1", CultureInfo.InvariantCulture)} MB)");
        return ChartRun.Load(path);
    }

    /// <summary>Two runs with the same folder name (runs/a/grpo, runs/b/grpo) would share a legend name; those take
    /// the path they were given instead.</summary>
    static List<ChartRun> Distinct(List<ChartRun> runs, string[] arguments)
    {
        var shared = runs.GroupBy(r => r.Name, StringComparer.Ordinal).Where(g => g.Count() > 1).Select(g => g.Key).ToHashSet(StringComparer.Ordinal);
        return [.. runs.Select((run, i) => shared.Contains(run.Name) ? run with { Name = Path.TrimEndingDirectorySeparator(arguments[i]) } : run)];
    }

    static string Plural(int count, string noun) => $"{count} {noun}{(count == 1 ? "" : "s")}";
}

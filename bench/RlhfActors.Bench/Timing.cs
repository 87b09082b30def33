using System.Diagnostics;

namespace RlhfActors.Bench;

/// <summary>Wall-clock timing helpers. Medians rather than means: on a shared machine one run that lost its core
/// to another process should not move the figure.</summary>
public static class Timing
{
    public static double Seconds(Action action)
    {
        var clock = Stopwatch.StartNew();
        action();
        return clock.Elapsed.TotalSeconds;
    }

    public static async Task<double> SecondsAsync(Func<Task> action)
    {
        var clock = Stopwatch.StartNew();
        await action();
        return clock.Elapsed.TotalSeconds;
    }

    /// <summary>The 1-minute load average ("?" off Linux): other processes' load moves every cross-process figure.</summary>
    public static string LoadAverage() => File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";

    public static double Median(IReadOnlyList<double> values)
    {
        if (values.Count == 0) throw new ArgumentException("no values", nameof(values));
        var sorted = values.OrderBy(v => v).ToArray();
        int mid = sorted.Length / 2;
        return sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
    }
}

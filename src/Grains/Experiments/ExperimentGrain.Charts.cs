using Microsoft.Extensions.Logging;
using RlhfActors.Training.Metrics;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// A finished run draws its charts (<c>&lt;output_dir&gt;/charts/*.png</c>, <see cref="MetricsCharts"/>) from the
/// metrics.jsonl its final checkpoint has just flushed, so a person finds them next to the checkpoints without
/// running <c>rlhf plot</c>. A chart is a by-product: failing to draw one (a full disk, a bad line) is logged and the
/// run completes all the same.
/// </summary>
public sealed partial class ExperimentGrain
{
    async Task WriteChartsAsync()
    {
        var outputDir = Config.OutputDir;
        try
        {
            // Off the grain's scheduler: reading a long history and encoding PNGs is blocking work.
            var written = await Task.Run(() => MetricsCharts.WriteForRun(outputDir));
            LogChartsWritten(ExperimentId, written.Count, Path.Combine(outputDir, MetricsCharts.FolderName));
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            LogChartsFailed(ExperimentId, e.Message);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: {Count} charts written to {Folder}")]
    private partial void LogChartsWritten(string experimentId, int count, string folder);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: charts not written (the run is unaffected): {Reason}")]
    private partial void LogChartsFailed(string experimentId, string reason);
}

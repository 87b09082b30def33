namespace RlhfActors.Training.Metrics;

/// <summary>
/// TensorBoard event files of a run, in <c>&lt;output_dir&gt;/runs/</c>, written with TorchSharp's
/// <c>torch.utils.tensorboard.SummaryWriter</c>: one scalar per figure of each metrics line, under the figure's name
/// as its tag. metrics.jsonl is the record; the event files are its projection, so a resume (whose metrics file was
/// cut back to its checkpoint) deletes them and replays the file (<see cref="Rebuild"/>), and TensorBoard never
/// shows a step twice.
/// </summary>
public sealed class TensorBoardEvents
{
    public const string FolderName = "runs";

    readonly TorchSharp.Modules.SummaryWriter _writer;

    TensorBoardEvents(string folder) => _writer = TorchSharp.torch.utils.tensorboard.SummaryWriter(folder);

    public static string FolderIn(string outputDir) => Path.Combine(outputDir, FolderName);

    /// <summary>Deletes the folder's event files and starts one replaying <paramref name="history"/>.</summary>
    public static TensorBoardEvents Rebuild(string outputDir, IEnumerable<MetricsLine> history)
    {
        var folder = FolderIn(outputDir);
        if (Directory.Exists(folder))
            foreach (var file in Directory.EnumerateFiles(folder, "events.out.tfevents.*")) File.Delete(file);
        var events = new TensorBoardEvents(folder);
        foreach (var line in history) events.Write(line);
        return events;
    }

    public void Write(MetricsLine line)
    {
        // TensorBoard reads wall_time as Unix seconds; TorchSharp's default would be .NET ticks, and it takes whole
        // numbers only, so the line's time goes in as whole seconds.
        var wallTime = line.Time.ToUnixTimeSeconds();
        foreach (var (tag, value) in line.Values)
            if (double.IsFinite(value)) _writer.add_scalar(tag, (float)value, line.Step, wallTime);
    }
}

using System.CommandLine;
using RlhfActors.Client.Progress;
using RlhfActors.Training.Checkpoints;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf export &lt;checkpoint-or-run-dir&gt; --out &lt;dir&gt;</c>: a verified checkpoint as folders other tools load —
/// <c>merged/</c> (plain Hugging Face model) and, for a LoRA run, <c>adapter/</c> (PEFT) plus <c>base/</c> when the
/// adapter's base is not a local folder. See <see cref="CheckpointExport"/>.
/// </summary>
public static class ExportCommand
{
    public static Command Create(CliContext cli)
    {
        var source = new Argument<string>("checkpoint") { Description = "A checkpoint folder, or a run folder (runs/<name>: its newest checkpoint-<step>)" };
        var output = new Option<string>("--out") { Description = "Folder to create (must not exist, or be empty)", Required = true };
        var command = new Command("export", "Export a checkpoint as a plain Hugging Face folder (merged/) and, under LoRA, a PEFT adapter folder (adapter/)")
        {
            source, output,
        };
        command.SetAction(parse => Execute(parse.GetValue(source)!, parse.GetValue(output)!, cli));
        return command;
    }

    static int Execute(string source, string output, CliContext cli)
    {
        ExportResult result;
        try
        {
            var progress = new CountProgress(cli.Stdout, cli.StdoutIsTerminal, "export");
            try
            {
                result = CheckpointExport.Export(source, output, progress.Report);
            }
            finally
            {
                progress.Finish();
            }
        }
        // Bad input: nothing there, not a checkpoint, a corrupt checkpoint, an --out that is in use. Nothing written.
        catch (Exception e) when (e is DirectoryNotFoundException or ArgumentException or InvalidDataException)
        {
            cli.Stderr.WriteLine($"error: export: {e.Message}");
            return ExitCodes.Usage;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            cli.Stderr.WriteLine($"error: export failed (nothing was left in place): {e.Message}");
            return ExitCodes.Failed;
        }

        cli.Stdout.WriteLine($"exported {result.Checkpoint} (step {result.Step}) to {result.Output}");
        var width = result.Files.Max(f => f.Path.Length);
        foreach (var file in result.Files) cli.Stdout.WriteLine($"  {file.Path.PadRight(width)}  {file.Bytes,12} bytes");
        cli.Stdout.WriteLine($"{result.Files.Count} files, {result.Files.Sum(f => f.Bytes)} bytes"
            + (result.WroteBase ? $"; {CheckpointExport.BaseFolder}/ rebuilt from the merged weights (the run's base is not a local folder)" : ""));
        return ExitCodes.Ok;
    }
}

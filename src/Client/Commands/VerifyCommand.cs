using System.CommandLine;
using System.Text.Json.Nodes;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.IO;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf verify &lt;checkpoint-or-folder&gt; [--json]</c>: checks a checkpoint's files against its manifest and prints
/// its lineage (<see cref="CheckpointLineage"/>): the run, config hash, dataset hash, code and libtorch versions, and
/// each input (model.init, dataset files) compared with what its path holds now, back through earlier runs' checkpoints.
/// A run folder means its newest checkpoint. A plain Hugging Face folder has nothing to verify against; its digests
/// are printed. Exit 0 when everything matches, 1 when a hash does not, 2 for a path that is neither.
/// </summary>
public static class VerifyCommand
{
    public static Command Create(CliContext cli)
    {
        var source = new Argument<string>("checkpoint") { Description = "A checkpoint folder, a run folder (its newest checkpoint-<step>) or a model folder" };
        var json = new Option<bool>("--json") { Description = "Print the verification and lineage as one JSON object" };
        var command = new Command("verify", "Verify a checkpoint's hashes and print its lineage") { source, json };
        command.SetAction(parse => Execute(parse.GetValue(source)!, parse.GetValue(json), cli, "verify"));
        return command;
    }

    /// <summary>Verifies a folder and prints its lineage; <paramref name="name"/> is the command whose errors these are
    /// (<c>rlhf trace</c> on a checkpoint takes this same path).</summary>
    internal static int Execute(string source, bool json, CliContext cli, string name)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(source));
        if (!Directory.Exists(full))
        {
            cli.Stderr.WriteLine($"error: {name}: {full} does not exist");
            return ExitCodes.Usage;
        }
        var isCheckpoint = File.Exists(Path.Combine(full, CheckpointManifest.FileName));
        if (!isCheckpoint && File.Exists(Path.Combine(full, HfModelFolder.ConfigFile)))
            return PlainFolder(full, json, cli);
        string checkpoint;
        try { checkpoint = CheckpointExport.ResolveCheckpoint(full); }
        catch (ArgumentException e)
        {
            cli.Stderr.WriteLine($"error: {name}: {e.Message}");
            return ExitCodes.Usage;
        }

        CheckpointLineage lineage;
        try { lineage = CheckpointLineage.Trace(checkpoint); }
        catch (InvalidDataException e)
        {
            if (json) cli.Stdout.WriteLine(new JsonObject { ["checkpoint"] = checkpoint, ["verified"] = false, ["error"] = e.Message }.ToJsonString());
            cli.Stderr.WriteLine($"error: {name}: {e.Message}");
            return ExitCodes.Failed;
        }
        if (json) cli.Stdout.WriteLine(ToJson(lineage).ToJsonString());
        else Print(lineage, "", cli.Stdout);
        if (!lineage.Intact) cli.Stderr.WriteLine($"error: {name}: the checkpoint verifies, but its lineage does not (see above)");
        return lineage.Intact ? ExitCodes.Ok : ExitCodes.Failed;
    }

    static int PlainFolder(string folder, bool json, CliContext cli)
    {
        var digests = ModelFolderDigest.Compute(folder);
        if (json)
        {
            var files = new JsonObject();
            foreach (var (name, sha) in digests) files[name] = sha;
            cli.Stdout.WriteLine(new JsonObject { ["folder"] = folder, ["manifest"] = false, ["files"] = files }.ToJsonString());
            return ExitCodes.Ok;
        }
        cli.Stdout.WriteLine($"{folder}: a model folder without a manifest (nothing to verify against); its files:");
        foreach (var (name, sha) in digests) cli.Stdout.WriteLine($"  {sha}  {name}");
        return ExitCodes.Ok;
    }

    internal static void Print(CheckpointLineage l, string indent, TextWriter output)
    {
        string P(string key) => l.Provenance.GetValueOrDefault(key) is { Length: > 0 } v ? v : "(not recorded)";
        output.WriteLine($"{indent}{l.Checkpoint}: verified ({l.FileCount} files, {l.TotalBytes} bytes)");
        output.WriteLine($"{indent}  step {l.Step} of experiment '{P("experiment")}' ({P("algorithm")}), policy version {P("policy_version")}, seed {P("seed")}");
        output.WriteLine($"{indent}  config sha256 {P("config_sha256")} ({(l.ConfigHashMatches ? "matches its recorded config" : "DOES NOT match its recorded config")})");
        output.WriteLine($"{indent}  dataset sha256 {P("dataset_sha256")}");
        output.WriteLine($"{indent}  code {P("code_version")}, TorchSharp {P("torchsharp_version")}, libtorch {P("libtorch_version")}");
        if (l.Inputs.Count == 0) output.WriteLine($"{indent}  inputs: none recorded (a scratch model on a built-in task, or an older checkpoint)");
        foreach (var input in l.Inputs)
        {
            var changed = input.Changed.Count > 0 ? $": {string.Join(", ", input.Changed)}" : "";
            output.WriteLine($"{indent}  ← {input.Field} {input.Path ?? "(path not recorded)"}: {input.State}{changed}");
            if (input.Origin is { } origin) Print(origin, indent + "    ", output);
        }
    }

    internal static JsonObject ToJson(CheckpointLineage l)
    {
        var provenance = new JsonObject();
        foreach (var (key, value) in l.Provenance.Where(p => p.Key != "config_json").OrderBy(p => p.Key, StringComparer.Ordinal))
            provenance[key] = value;
        return new JsonObject
        {
            ["checkpoint"] = l.Checkpoint,
            ["verified"] = true,
            ["intact"] = l.Intact,
            ["step"] = l.Step,
            ["config_hash_matches"] = l.ConfigHashMatches,
            ["provenance"] = provenance,
            ["inputs"] = new JsonArray([.. l.Inputs.Select(i => (JsonNode)new JsonObject
            {
                ["field"] = i.Field,
                ["path"] = i.Path,
                ["state"] = i.State,
                ["changed"] = new JsonArray([.. i.Changed.Select(c => (JsonNode)JsonValue.Create(c)!)]),
                ["origin"] = i.Origin is null ? null : ToJson(i.Origin),
            })]),
        };
    }
}

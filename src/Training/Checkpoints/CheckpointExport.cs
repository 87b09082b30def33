using System.Security.Cryptography;
using System.Text.RegularExpressions;
using RlhfActors.Training.IO;
using RlhfActors.Training.Peft;

namespace RlhfActors.Training.Checkpoints;

/// <summary>One file an export wrote: its final full path and size.</summary>
public sealed record ExportedFile(string Path, long Bytes);

/// <summary>What <see cref="CheckpointExport.Export"/> did: the checkpoint it read, the output folder, every file,
/// and whether it had to reconstruct the adapter's base into <c>base/</c>.</summary>
public sealed record ExportResult(string Checkpoint, int Step, string Output, IReadOnlyList<ExportedFile> Files, bool WroteBase);

/// <summary>
/// Turns a training checkpoint into what other tools load: <c>merged/</c>, a plain Hugging Face folder of the policy
/// (config, weights, tokenizer; no optimizer, trainer state or manifest), and for a LoRA run <c>adapter/</c>, a PEFT
/// folder that loads on its own. Its base_model_name_or_path must be a real folder, so when the run's base is not a
/// local folder the base is rebuilt into <c>base/</c> by un-merging the adapter from the merged weights
/// (<see cref="Lora.Unmerge"/>). The output appears whole or not at all: it is built in a sibling temporary folder
/// and renamed into place.
/// </summary>
public static class CheckpointExport
{
    public const string MergedFolder = "merged", AdapterFolder = "adapter", BaseFolder = "base";

    static readonly Regex CheckpointName = new(@"^checkpoint-(\d+)$", RegexOptions.CultureInvariant);

    /// <summary>A checkpoint folder (it has manifest.json) as is; a run folder (runs/&lt;name&gt;) as its newest
    /// <c>checkpoint-&lt;step&gt;</c> by step number. Throws <see cref="DirectoryNotFoundException"/> or
    /// <see cref="ArgumentException"/> when it is neither.</summary>
    public static string ResolveCheckpoint(string checkpointOrRun)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(checkpointOrRun));
        if (!Directory.Exists(full)) throw new DirectoryNotFoundException($"{full} does not exist");
        if (File.Exists(Path.Combine(full, CheckpointManifest.FileName))) return full;
        var newest = Directory.EnumerateDirectories(full)
            .Select(d => (Path: d, Match: CheckpointName.Match(Path.GetFileName(d))))
            .Where(d => d.Match.Success && long.TryParse(d.Match.Groups[1].Value, out _))
            .OrderByDescending(d => long.Parse(d.Match.Groups[1].Value))
            .Select(d => d.Path).FirstOrDefault();
        return newest ?? throw new ArgumentException(
            $"{full} is neither a checkpoint (no {CheckpointManifest.FileName}) nor a run folder (no checkpoint-<step> folders)");
    }

    /// <summary>Verifies the checkpoint and writes the export to <paramref name="output"/>, which must not exist or
    /// be empty (<see cref="ArgumentException"/> otherwise, before anything is written). A corrupt checkpoint throws
    /// <see cref="InvalidDataException"/> from <see cref="CheckpointReader.Verify"/>. <paramref name="progress"/> gets
    /// (parts done, parts in all) after the verification and after each file copied: the slow parts of a large model.</summary>
    public static ExportResult Export(string checkpointOrRun, string output, Action<int, int>? progress = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(output);
        var checkpoint = ResolveCheckpoint(checkpointOrRun);
        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(output));
        if (File.Exists(target)) throw new ArgumentException($"--out {target} is a file; give a new or empty folder");
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any())
            throw new ArgumentException($"--out {target} exists and is not empty; refusing to overwrite it (give a new or empty folder)");
        var manifest = CheckpointReader.Verify(checkpoint);

        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var staging = $"{target}.tmp-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6))}";
        bool wroteBase = false;
        try
        {
            // merged/: the checkpoint's own model files byte for byte (config, weights or shards, tokenizer).
            var modelFiles = manifest.Files.Keys.Where(n => !n.Contains('/') && !CheckpointFiles.TrainingOnly.Contains(n)).ToArray();
            var hasAdapter = CheckpointReader.HasAdapter(manifest);
            int parts = 1 + modelFiles.Length + (hasAdapter ? 1 : 0), done = 1;
            progress?.Invoke(done, parts);
            CopyFiles(checkpoint, modelFiles, Path.Combine(staging, MergedFolder), () => progress?.Invoke(++done, parts));

            if (hasAdapter)
            {
                var adapterSource = CheckpointReader.AdapterPath(checkpoint);
                var adapter = PeftAdapterFolder.Read(adapterSource);
                var baseFolder = LocalFolder(adapter.BaseModelNameOrPath);
                if (baseFolder is null)
                {
                    WriteBase(checkpoint, adapter, modelFiles, Path.Combine(staging, BaseFolder));
                    baseFolder = Path.Combine(target, BaseFolder);
                    wroteBase = true;
                }
                PeftAdapterFolder.Write(Path.Combine(staging, AdapterFolder), adapter with { BaseModelNameOrPath = baseFolder });
                progress?.Invoke(++done, parts);
            }

            if (Directory.Exists(target)) Directory.Delete(target); // empty, checked above
            Directory.Move(staging, target);
        }
        catch
        {
            try { if (Directory.Exists(staging)) Directory.Delete(staging, recursive: true); }
            catch (IOException) { }
            catch (UnauthorizedAccessException) { }
            throw;
        }
        var files = Directory.EnumerateFiles(target, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal)
            .Select(p => new ExportedFile(p, new FileInfo(p).Length)).ToArray();
        return new ExportResult(checkpoint, manifest.Step, target, files, wroteBase);
    }

    /// <summary>The full path of <paramref name="nameOrPath"/> when it is a local model folder (absolute, or relative
    /// to the current directory); null for a hub id, a missing folder or null.</summary>
    static string? LocalFolder(string? nameOrPath)
    {
        if (string.IsNullOrWhiteSpace(nameOrPath)) return null;
        var full = Path.GetFullPath(nameOrPath);
        return File.Exists(Path.Combine(full, HfModelFolder.ConfigFile)) ? full : null;
    }

    /// <summary>base/: the merged weights minus the adapter, with the checkpoint's own config.json and tokenizer.</summary>
    static void WriteBase(string checkpoint, PeftAdapter adapter, IReadOnlyList<string> modelFiles, string folder)
    {
        var merged = HfModelFolder.Load(checkpoint, verified: true);
        var weights = Lora.Unmerge(merged.Weights, adapter, checkpoint);
        HfModelFolder.Save(folder, merged.Config, weights);
        // Same bytes as merged/ for everything but the weights: the config exactly as trained, and the tokenizer.
        var rest = modelFiles.Where(n => n == HfModelFolder.ConfigFile || !IsWeightsFile(n));
        foreach (var name in rest) File.Copy(Path.Combine(checkpoint, name), Path.Combine(folder, name), overwrite: true);
    }

    static bool IsWeightsFile(string name) =>
        name == HfModelFolder.IndexFile || name.EndsWith(".safetensors", StringComparison.Ordinal);

    static void CopyFiles(string from, IEnumerable<string> names, string to, Action? copied = null)
    {
        Directory.CreateDirectory(to);
        foreach (var name in names)
        {
            File.Copy(Path.Combine(from, name), Path.Combine(to, name));
            copied?.Invoke();
        }
    }
}

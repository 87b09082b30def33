using System.Globalization;
using System.Security.Cryptography;
using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Weights;

namespace RlhfActors.Training.Checkpoints;

/// <summary>Thrown instead of writing a checkpoint whose weights are not all finite.</summary>
public sealed class NonFiniteWeightsException(string message) : InvalidOperationException(message);

/// <summary>
/// Writes a checkpoint folder: a Hugging Face model folder (config.json + model.safetensors or shards),
/// optimizer.safetensors, trainer_state.json (transformers' shape, the learner's record under "rlhf":
/// <see cref="TrainerStateFile"/>), generation_config.json, under LoRA an <c>adapter/</c> PEFT folder and, last, manifest.json with
/// every file's size and SHA-256.
/// Everything is written into a sibling temporary folder that is renamed into place only when complete, so
/// <c>directory</c> holds either the old checkpoint or the whole new one, never a mix.
/// </summary>
public static class CheckpointWriter
{
    /// <summary>Writes the checkpoint and returns its full path, step and the SHA-256 of manifest.json.
    /// <paramref name="maxShardBytes"/> is passed to <see cref="HfModelFolder.Save"/>: larger weights are sharded.
    /// <paramref name="adapter"/> (a LoRA run): <paramref name="weights"/> are still the merged policy, so every plain
    /// reader sees the model it trained, and the adapter alone is written to <c>adapter/</c> in PEFT's layout for
    /// tools that serve or stack adapters; the manifest hashes its files like the rest.</summary>
    public static CheckpointInfo Write(string directory, ModelConfig config, IReadOnlyList<TensorBytes> weights,
        IReadOnlyList<TensorBytes> optimizerState, string trainerStateJson, int step,
        IReadOnlyDictionary<string, string> provenance, long maxShardBytes = 2L << 30,
        IReadOnlyDictionary<string, byte[]>? extraFiles = null, PeftAdapter? adapter = null, TrainerProgress? progress = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(weights);
        ArgumentNullException.ThrowIfNull(optimizerState);
        ArgumentNullException.ThrowIfNull(provenance);
        if (step < 0) throw new ArgumentException($"step must be >= 0, got {step}", nameof(step));
        // Composing parses the learner's record, so a malformed one fails here, before anything is written.
        var trainerState = TrainerStateFile.Compose(trainerStateJson, step, progress);
        // A diverged model is not a checkpoint: nothing that verifies may hold NaN or infinite weights.
        if (FiniteWeights.FirstNonFinite(weights) is { } bad)
            throw new NonFiniteWeightsException($"refusing to write checkpoint {directory}: weight '{bad.Name}' holds a NaN or infinite value (element {bad.Index}); the model has diverged");

        var target = Path.TrimEndingDirectorySeparator(Path.GetFullPath(directory));
        Directory.CreateDirectory(Path.GetDirectoryName(target)!);
        var staging = $"{target}.tmp-{RandomSuffix()}";
        string manifestSha256;
        try
        {
            Directory.CreateDirectory(staging);
            HfModelFolder.Save(staging, config, weights, maxShardBytes);
            SafeTensorsFile.Write(Path.Combine(staging, CheckpointFiles.OptimizerState), optimizerState,
                new Dictionary<string, string> { ["format"] = "pt" });
            AtomicFile.WriteAllText(Path.Combine(staging, CheckpointFiles.TrainerState), trainerState);
            // Extra files (the tokenizer's) are listed and hashed in the manifest like every other file.
            foreach (var (name, bytes) in extraFiles ?? new Dictionary<string, byte[]>())
            {
                if (name != Path.GetFileName(name) || File.Exists(Path.Combine(staging, name)))
                    throw new ArgumentException($"extra checkpoint file '{name}' must be a plain file name not already written", nameof(extraFiles));
                AtomicFile.Write(Path.Combine(staging, name), s => s.Write(bytes));
            }
            // transformers' save_pretrained always writes one; the tokenizer's folder may have brought the model's own.
            var generationConfig = Path.Combine(staging, GenerationConfig.FileName);
            if (!File.Exists(generationConfig)) AtomicFile.Write(generationConfig, s => s.Write(GenerationConfig.FromModelConfig(config)));
            if (adapter is not null) PeftAdapterFolder.Write(Path.Combine(staging, CheckpointFiles.AdapterFolder), adapter);
            manifestSha256 = WriteManifest(staging, step, provenance);
        }
        catch
        {
            TryDeleteDirectory(staging);
            throw;
        }
        SwapIntoPlace(staging, target);
        return new CheckpointInfo(target, step, manifestSha256);
    }

    static string WriteManifest(string staging, int step, IReadOnlyDictionary<string, string> provenance)
    {
        // Subfolders (adapter/) too, named by their relative path with '/' whatever the OS.
        var files = Directory.EnumerateFiles(staging, "*", SearchOption.AllDirectories)
            .ToDictionary(p => Path.GetRelativePath(staging, p).Replace(Path.DirectorySeparatorChar, '/'),
                p => new CheckpointFileEntry(Hashing.Sha256Hex(p), new FileInfo(p).Length));
        var manifest = new CheckpointManifest
        {
            Step = step,
            CreatedUtc = DateTime.UtcNow.ToString("O", CultureInfo.InvariantCulture),
            Files = files,
            Provenance = provenance,
        };
        var bytes = new System.Text.UTF8Encoding(false).GetBytes(manifest.ToJson());
        AtomicFile.Write(Path.Combine(staging, CheckpointManifest.FileName), s => s.Write(bytes));
        return Hashing.Sha256Hex(bytes);
    }

    /// <summary>Moves an existing checkpoint aside, renames the staged one into place, then deletes the old one;
    /// if the rename fails the old one is put back.</summary>
    static void SwapIntoPlace(string staging, string target)
    {
        string? aside = null;
        if (Directory.Exists(target))
        {
            aside = $"{target}.old-{RandomSuffix()}";
            Directory.Move(target, aside);
        }
        try
        {
            Directory.Move(staging, target);
        }
        catch
        {
            if (aside is not null) Directory.Move(aside, target);
            TryDeleteDirectory(staging);
            throw;
        }
        if (aside is not null) TryDeleteDirectory(aside);
    }

    static string RandomSuffix() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));

    static void TryDeleteDirectory(string path)
    {
        // Best effort: a leftover temporary folder is harmless (never read as a checkpoint), a masked exception is not.
        try { if (Directory.Exists(path)) Directory.Delete(path, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}

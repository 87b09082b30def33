using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Weights;

namespace RlhfActors.Training.Checkpoints;

/// <summary>Everything a checkpoint holds, after its manifest hashes were verified.</summary>
public sealed record LoadedCheckpoint(ModelConfig Config, IReadOnlyList<TensorBytes> Weights,
    IReadOnlyList<TensorBytes> OptimizerState, string TrainerStateJson /* the learner's record: TrainerStateFile.ProjectState */, int Step,
    IReadOnlyDictionary<string, string> Provenance, CheckpointManifest Manifest)
{
    /// <summary>The LoRA adapter of <c>adapter/</c> (its tensors are already inside <see cref="Weights"/>, merged);
    /// null for a full fine-tuning checkpoint.</summary>
    public PeftAdapter? Adapter { get; init; }
}

/// <summary>Opens checkpoints written by <see cref="CheckpointWriter"/>. Verification comes first: a checkpoint
/// with a missing, resized or altered file is refused with <see cref="InvalidDataException"/>, never loaded.</summary>
public static class CheckpointReader
{
    public static LoadedCheckpoint Open(string directory)
    {
        var manifest = Verify(directory);
        var model = HfModelFolder.Load(directory, verified: true);
        var optimizer = SafeTensorsFile.Read(Path.Combine(directory, CheckpointFiles.OptimizerState));
        var trainerState = TrainerStateFile.ProjectState(File.ReadAllText(Path.Combine(directory, CheckpointFiles.TrainerState)));
        return new LoadedCheckpoint(model.Config, model.Weights, optimizer.Tensors, trainerState, manifest.Step,
            manifest.Provenance, manifest) { Adapter = HasAdapter(manifest) ? PeftAdapterFolder.Read(AdapterPath(directory)) : null };
    }

    /// <summary>The policy weights of a verified checkpoint, without reading its optimizer state (twice their size).</summary>
    public static IReadOnlyList<TensorBytes> OpenWeights(string directory)
    {
        Verify(directory);
        return HfModelFolder.Load(directory, verified: true).Weights;
    }

    /// <summary>Whether the (verified) checkpoint holds a LoRA adapter in <c>adapter/</c>.</summary>
    public static bool HasAdapter(CheckpointManifest manifest) => manifest.Files.ContainsKey(CheckpointFiles.AdapterFiles[0]);

    public static string AdapterPath(string directory) => Path.Combine(directory, CheckpointFiles.AdapterFolder);

    /// <summary>Checks manifest.json and every file it lists (presence, byte count, SHA-256) and that the required
    /// files are listed; returns the manifest. Throws <see cref="InvalidDataException"/> on any mismatch.</summary>
    public static CheckpointManifest Verify(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        if (!Directory.Exists(directory))
            throw new DirectoryNotFoundException($"checkpoint {directory} does not exist");
        var manifestPath = Path.Combine(directory, CheckpointManifest.FileName);
        if (!File.Exists(manifestPath))
            throw new InvalidDataException($"checkpoint {directory} is incomplete: {CheckpointManifest.FileName} is missing (partial write?); refusing to load");
        var manifest = CheckpointManifest.Parse(File.ReadAllText(manifestPath), directory);

        foreach (var required in CheckpointFiles.Required)
            if (!manifest.Files.ContainsKey(required))
                throw CheckpointManifest.Corrupt(directory, $"{CheckpointManifest.FileName} does not list required file {required}");
        if (!manifest.Files.ContainsKey(HfModelFolder.SingleWeightsFile) && !manifest.Files.ContainsKey(HfModelFolder.IndexFile))
            throw CheckpointManifest.Corrupt(directory, $"{CheckpointManifest.FileName} lists neither {HfModelFolder.SingleWeightsFile} nor {HfModelFolder.IndexFile}");

        // An adapter is all or nothing: both files listed, and no unlisted adapter/ folder that an export would trust.
        var listedAdapterFiles = CheckpointFiles.AdapterFiles.Count(manifest.Files.ContainsKey);
        if (listedAdapterFiles == 1)
            throw CheckpointManifest.Corrupt(directory, $"{CheckpointManifest.FileName} lists only one of {string.Join(" and ", CheckpointFiles.AdapterFiles)}");
        if (listedAdapterFiles == 0 && Directory.Exists(AdapterPath(directory)))
            throw CheckpointManifest.Corrupt(directory, $"it has an {CheckpointFiles.AdapterFolder}/ folder that {CheckpointManifest.FileName} does not list");

        foreach (var (name, expected) in manifest.Files)
        {
            var path = Path.Combine(directory, name);
            if (!File.Exists(path))
                throw CheckpointManifest.Corrupt(directory, $"{name} is listed in {CheckpointManifest.FileName} but missing");
            var bytes = new FileInfo(path).Length;
            if (bytes != expected.Bytes)
                throw CheckpointManifest.Corrupt(directory, $"{name} is {bytes} bytes, manifest says {expected.Bytes}");
            var sha = Hashing.Sha256Hex(path);
            if (!string.Equals(sha, expected.Sha256, StringComparison.OrdinalIgnoreCase))
                throw CheckpointManifest.Corrupt(directory, $"{name} SHA-256 is {sha}, manifest says {expected.Sha256}");
        }
        return manifest;
    }
}

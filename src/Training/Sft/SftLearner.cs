using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Weights;

namespace RlhfActors.Training.Sft;

/// <summary>Where a policy's weights start: a Hugging Face folder, or a fresh initialisation of a config.</summary>
public sealed record ModelSource
{
    public string? Path { get; init; }
    public ModelConfig? Config { get; init; }
    /// <summary>Compute dtype: "bf16" or "fp32".</summary>
    public string DType { get; init; } = "bf16";
}

public sealed record SftLearnerSpec(ModelSource Model, string Tokenizer, IReadOnlyList<PromptCompletion> Train,
    SftOptions Options, int Seed, string Device = "cpu");

/// <summary>Checkpoint written by a learner: folder and the manifest's hashes.</summary>
public sealed record CheckpointInfo(string Path, int Step, string ManifestSha256);

/// <summary>Owns one trainable policy, its optimizer and its data order. All TorchSharp work; not thread-safe:
/// one device worker thread calls it.</summary>
public sealed class SftLearner : IDisposable
{
    public static SftLearner Create(SftLearnerSpec spec) => throw new NotImplementedException("filled in by the model work");
    public ModelConfig Config => throw new NotImplementedException();
    public int StepsDone => throw new NotImplementedException();
    public SftStepMetrics Step() => throw new NotImplementedException();
    public IReadOnlyList<TensorBytes> ExportWeights() => throw new NotImplementedException();
    /// <summary>Writes a Hugging Face folder + optimizer state + manifest under <paramref name="directory"/>.
    /// <paramref name="provenance"/> (config hash, dataset hash, …) goes into the manifest.</summary>
    public CheckpointInfo SaveCheckpoint(string directory, IReadOnlyDictionary<string, string> provenance) => throw new NotImplementedException();
    public void Dispose() { }
}

using RlhfActors.Training.Model;
using static TorchSharp.torch;

namespace RlhfActors.Training.Sampling;

/// <summary>Loads a Hugging Face model folder and generates from token-id prompts (what `rlhf generate` calls).</summary>
public static class FolderGeneration
{
    /// <param name="verified">The caller verified the folder's manifest (and an adapter's base's) just before.</param>
    public static GenerationResult Generate(string modelFolder, IReadOnlyList<int[]> prompts, SamplingOptions options, string dtype = "fp32",
        bool verified = false)
    {
        using var model = ModelFactory.LoadFolder(modelFolder, ModelFactory.ParseComputeType(dtype), CPU, verified);
        model.StoreWeightsInComputeType();
        model.eval();
        return Sampler.Generate(model, prompts, options);
    }
}

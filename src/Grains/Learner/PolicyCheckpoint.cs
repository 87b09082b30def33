using System.Text.Json;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Grains.Learner;

/// <summary>The checkpoint of a PPO stage: the policy as a Hugging Face folder (with tokenizer and verified manifest,
/// like every checkpoint) and a trainer state naming the stage. The stage's optimizer moments are not written: there
/// is no resume of that stage yet, and an optimizer file that no loader reads would only mislead.</summary>
static class PolicyCheckpoint
{
    public static CheckpointInfo Write(string directory, SftLearner learner, string stage, int step, int seed,
        IReadOnlyDictionary<string, string> provenance, IReadOnlyDictionary<string, byte[]> extraFiles) =>
        CheckpointWriter.Write(directory, learner.Config, learner.ExportWeights(), optimizerState: [],
            JsonSerializer.Serialize(new { stage, step, seed }), step, provenance,
            extraFiles: Tokenizers.FilesFor(learner.Tokenizer).Concat(extraFiles).ToDictionary());
}

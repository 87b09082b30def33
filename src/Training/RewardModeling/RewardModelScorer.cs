using RlhfActors.Training.Scoring;
using RlhfActors.Training.Tokenization;
using static TorchSharp.torch;

namespace RlhfActors.Training.RewardModeling;

/// <summary>
/// Scores (prompt, completion) texts with a trained reward model: what a reward-model grain or a judge calls.
/// A completion text maps to ids as in training (<see cref="EncodedPreference"/>): [bos] + prompt tokens, then
/// completion tokens + [eos], and the score is the head at that eos. A sampled completion is decoded without its
/// eos (<see cref="ITokenizer.Decode"/> drops it), so re-encoding it here restores the ids the policy emitted (exactly
/// for the character tokenizer; for BPE, the canonical tokenization of the same text); a completion cut off at the
/// length limit is scored as if it had ended there. The caller owns the model.
/// Not thread-safe: one device worker thread calls it.
/// </summary>
public sealed class RewardModelScorer(ScalarHeadModel model, ITokenizer tokenizer, int batchSize = RewardModelTrainer.EvaluationBatchSize)
{
    readonly ScalarHeadModel model = model ?? throw new ArgumentNullException(nameof(model));
    readonly ITokenizer tokenizer = tokenizer ?? throw new ArgumentNullException(nameof(tokenizer));
    readonly int batchSize = batchSize > 0 ? batchSize : throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "must be > 0");

    /// <summary>One reward per (prompts[i], completions[i]), without gradients, in batches.</summary>
    public double[] Score(IReadOnlyList<string> prompts, IReadOnlyList<string> completions)
    {
        ArgumentNullException.ThrowIfNull(prompts);
        ArgumentNullException.ThrowIfNull(completions);
        if (prompts.Count != completions.Count) throw new ArgumentException($"{prompts.Count} prompts for {completions.Count} completions");
        return ScoreTexts(prompts.Zip(completions).ToArray());
    }

    public double[] ScoreTexts(IReadOnlyList<(string Prompt, string Completion)> texts)
    {
        ArgumentNullException.ThrowIfNull(texts);
        var scores = new List<double>(texts.Count);
        model.Train(false);
        foreach (var chunk in texts.Chunk(batchSize))
        {
            using var scope = NewDisposeScope();
            using var _ = no_grad();
            var prompts = chunk.Select(t => Sft.EncodedExample.EncodePrompt(tokenizer, t.Prompt)).ToArray();
            var completions = chunk.Select(t => EncodedPreference.EncodeCompletion(tokenizer, t.Completion)).ToArray();
            scores.AddRange(model.SequenceScores(prompts, completions, tokenizer.PadId).to(ScalarType.Float64).data<double>().ToArray());
        }
        return scores.ToArray();
    }
}

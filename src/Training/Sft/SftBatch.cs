using static TorchSharp.torch;

namespace RlhfActors.Training.Sft;

/// <summary>
/// A right-padded next-token batch: inputs are sequence[0..n−1), targets sequence[1..n), and the loss mask
/// selects completion targets (completion-only loss; of a conversation, its assistant turns) or every real target. Right padding needs no attention
/// mask: causality already keeps real tokens from seeing the pads that follow them.
/// </summary>
public sealed record SftBatch(long[] Inputs, long[] Targets, float[] LossMask, int Rows, int Width, long RealTokens)
{
    public static SftBatch Build(IReadOnlyList<EncodedExample> examples, int padId, bool completionOnly)
    {
        int width = examples.Max(e => e.Length) - 1;
        var inputs = new long[examples.Count * width];
        var targets = new long[examples.Count * width];
        var mask = new float[examples.Count * width];
        long real = 0;
        Array.Fill(inputs, padId);
        Array.Fill(targets, padId);
        for (int r = 0; r < examples.Count; r++)
        {
            var seq = examples[r].Prompt.Concat(examples[r].Completion).ToArray();
            int firstCompletionTarget = examples[r].Prompt.Length - 1; // target index of the first completion token
            for (int j = 0; j < seq.Length - 1; j++)
            {
                inputs[r * width + j] = seq[j];
                targets[r * width + j] = seq[j + 1];
                mask[r * width + j] = !completionOnly || j >= firstCompletionTarget && examples[r].IsTrained(j + 1 - examples[r].Prompt.Length) ? 1f : 0f;
            }
            real += seq.Length - 1;
        }
        return new SftBatch(inputs, targets, mask, examples.Count, width, real);
    }

    /// <summary>Σ of the loss mask <see cref="Build"/> would give <paramref name="examples"/>: a data-parallel rank's
    /// normaliser is the whole batch's, computed without building it.</summary>
    public static long LossTokens(IReadOnlyList<EncodedExample> examples, bool completionOnly) =>
        examples.Sum(e => completionOnly
            ? e.TrainedTokens - (e.Prompt.Length == 0 && e.Completion.Length > 0 && e.IsTrained(0) ? 1 : 0)
            : (long)(e.Length - 1));

    public (Tensor Inputs, Tensor Targets, Tensor LossMask) ToTensors(Device device) => (
        tensor(Inputs, new long[] { Rows, Width }, device: device),
        tensor(Targets, new long[] { Rows, Width }, device: device),
        tensor(LossMask, new long[] { Rows, Width }, device: device));
}

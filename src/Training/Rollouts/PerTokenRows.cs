using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rollouts;

/// <summary>
/// Per-token values cross actor boundaries as one float array per completion (its length); the learners work on
/// right-padded [B, T] tensors. These functions convert between the shapes.
/// </summary>
public static class PerTokenRows
{
    /// <summary>[rows, width] with row b's values in its first columns and 0 after; a row longer than width is an error.</summary>
    public static Tensor RightPadded(IReadOnlyList<float[]> rows, long width, Device device)
    {
        var data = new float[rows.Count * width];
        for (int b = 0; b < rows.Count; b++)
        {
            if (rows[b].Length > width) throw new ArgumentException($"row {b} has {rows[b].Length} values for {width} columns");
            rows[b].CopyTo(data, b * width);
        }
        return tensor(data, new long[] { rows.Count, width }, device: device);
    }

    /// <summary>The first lengths[b] columns of each row of a [B, T] tensor.</summary>
    public static float[][] Rows(Tensor values, IReadOnlyList<int> lengths)
    {
        using var scope = NewDisposeScope();
        var flat = values.detach().to(ScalarType.Float32).cpu().data<float>().ToArray();
        long width = values.shape[1];
        return lengths.Select((n, b) => flat.AsSpan((int)(b * width), n).ToArray()).ToArray();
    }

    /// <summary>Checks that there is one row per completion, as long as the completion.</summary>
    public static void CheckLengths(IReadOnlyList<float[]> rows, IReadOnlyList<int[]> completions, string what)
    {
        if (rows.Count != completions.Count) throw new ArgumentException($"{rows.Count} {what} rows for {completions.Count} completions");
        for (int b = 0; b < rows.Count; b++)
            if (rows[b].Length != completions[b].Length)
                throw new ArgumentException($"{what} row {b} has {rows[b].Length} values for a completion of {completions[b].Length} tokens");
    }
}

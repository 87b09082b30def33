using System.Runtime.InteropServices;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfActors.Training.Parallel;

/// <summary>
/// Packs a model's gradients and a few metric scalars into one fp32 buffer for <see cref="IGradientReducer.SumInPlace"/>,
/// and writes the summed buffer back. The layout is the parameters' order (every rank builds the same model, so the
/// same order), then the scalars. Gradients of bf16 weights are summed in fp32 and rounded once on the way back.
/// </summary>
public static class GradientBuffer
{
    /// <summary>Gradient elements of <paramref name="parameters"/> (a parameter without a gradient counts as zeros).</summary>
    public static long Elements(IReadOnlyList<Parameter> parameters) => parameters.Sum(p => p.numel());

    /// <summary>Sums the gradients of <paramref name="parameters"/> and <paramref name="scalars"/> over
    /// <paramref name="group"/>'s ranks (the gradients in place) and returns the summed scalars; with no group (or a
    /// group of one) returns the scalars untouched.</summary>
    public static double[] SumOverGroup(IGradientReducer? group, IReadOnlyList<Parameter> parameters, params double[] scalars)
    {
        if (group is null || group.Shard.IsWhole) return scalars;
        var buffer = Pack(parameters, scalars, reuse: true);
        group.SumInPlace(buffer);
        return Unpack(parameters, buffer, scalars.Length);
    }

    // The device thread's last buffer: a group sums one every step, and a new multi-megabyte array each time would
    // be a large-object allocation per step, i.e. frequent full GCs (and more chances for TorchSharp's Scalar race).
    [ThreadStatic] static float[]? reusable;

    /// <param name="reuse">Return this thread's buffer of the last call when it has the size (the caller is done with
    /// it by then: the learners unpack it before their next step).</param>
    public static float[] Pack(IReadOnlyList<Parameter> parameters, ReadOnlySpan<double> scalars, bool reuse = false)
    {
        long elements = Elements(parameters);
        if (elements + scalars.Length > Array.MaxLength)
            throw new NotSupportedException($"{elements} gradient elements do not fit one exchange buffer; a model this large needs bucketed packing");
        var buffer = reuse && reusable?.Length == elements + scalars.Length ? reusable : new float[elements + scalars.Length];
        if (reuse) reusable = buffer;
        long offset = 0;
        using (NewDisposeScope())
        using (no_grad())
        {
            foreach (var p in parameters)
            {
                int n = (int)p.numel();
                if (p.grad is { } g)
                {
                    var host = g.detach().to(ScalarType.Float32).cpu().contiguous();
                    MemoryMarshal.Cast<byte, float>(host.bytes).CopyTo(buffer.AsSpan((int)offset, n));
                }
                else buffer.AsSpan((int)offset, n).Clear();   // a reused buffer holds the last step's values here
                offset += n;
            }
        }
        for (int i = 0; i < scalars.Length; i++) buffer[offset + i] = (float)scalars[i];
        return buffer;
    }

    /// <summary>Writes the gradients of <paramref name="buffer"/> into the parameters' gradients and returns its
    /// scalars. Every parameter must have a gradient already (the learner ran backward on at least one row).</summary>
    public static double[] Unpack(IReadOnlyList<Parameter> parameters, float[] buffer, int scalarCount)
    {
        long elements = Elements(parameters);
        if (buffer.Length != elements + scalarCount)
            throw new ArgumentException($"a gradient buffer of {buffer.Length} elements for {elements} gradient elements and {scalarCount} scalars");
        long offset = 0;
        using (NewDisposeScope())
        using (no_grad())
        {
            foreach (var p in parameters)
            {
                int n = (int)p.numel();
                var g = p.grad ?? throw new InvalidOperationException("a parameter has no gradient to receive the group's sum (its rank trained on no rows)");
                var host = empty(g.shape, ScalarType.Float32, CPU);
                host.bytes = MemoryMarshal.AsBytes(buffer.AsSpan((int)offset, n));
                g.copy_(host);
                offset += n;
            }
        }
        var scalars = new double[scalarCount];
        for (int i = 0; i < scalarCount; i++) scalars[i] = buffer[offset + i];
        return scalars;
    }
}

using TorchSharp;

namespace RlhfActors.Training.Model;

/// <summary>
/// Scalars that live as long as the process, for the ops a forward pass runs per layer and per token.
/// Why: TorchSharp 0.107 turns every <c>a + b</c> into <c>add(b, alpha: 1)</c> with a new Scalar, and <c>square()</c>
/// into <c>pow(2)</c>, and leaves those temporaries to the finalizer, which can free one while libtorch still reads it
/// ("Expected false to be true" at Scalar.h:140 in add, "Unknown scalar type" / INTERNAL ASSERT in pow; both seen in
/// issue 19's demos; docs/torchsharp-on-debian.md). A Scalar held by a static field is never finalized, so the ops
/// below create none: <c>x.add(y, One)</c> for <c>x + y</c>, <c>x.pow(Two)</c> for <c>x.square()</c>: the same kernels
/// with the same arguments, so the same bits (checked: a 1,800-step SFT run ends on the same loss to the last digit).
/// </summary>
public static class KeptScalars
{
    // An integer 1, as TorchSharp's own add(target, 1) passes it: the kernels pick the same path.
    public static readonly Scalar One = 1;
    public static readonly Scalar Two = 2;

    /// <summary><paramref name="x"/> + <paramref name="y"/> without a temporary Scalar.</summary>
    public static torch.Tensor Plus(this torch.Tensor x, torch.Tensor y) => x.add(y, One);
}

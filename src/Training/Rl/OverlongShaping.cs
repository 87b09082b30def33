using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rl;

/// <summary>DAPO's (Yu et al. 2025) handling of completions that run into the length limit.</summary>
public static class OverlongShaping
{
    /// <summary>
    /// DAPO soft overlong punishment, a length-aware reward term added to the task reward:
    /// <code>
    /// 0                                     if length ≤ max − buffer
    /// −(length − (max − buffer)) / buffer   if max − buffer &lt; length ≤ max   (linear ramp 0 → −1)
    /// −1                                    if length &gt; max
    /// </code>
    /// A ramp instead of a cliff: a reasoning chain that is merely long is not punished as hard as one cut off.
    /// bufferLength = 0 turns the shaping off (returns 0).
    /// </summary>
    public static double Penalty(int length, int maxLength, int bufferLength)
    {
        if (maxLength < 1) throw new ArgumentOutOfRangeException(nameof(maxLength), maxLength, "must be >= 1");
        if (bufferLength < 0 || bufferLength > maxLength)
            throw new ArgumentOutOfRangeException(nameof(bufferLength), bufferLength, $"must be between 0 (off) and max length {maxLength}");
        if (length < 0) throw new ArgumentOutOfRangeException(nameof(length), length, "must be >= 0");
        if (bufferLength == 0) return 0;
        int expected = maxLength - bufferLength;
        if (length <= expected) return 0;
        if (length <= maxLength) return -(double)(length - expected) / bufferLength;
        return -1;
    }

    /// <summary>
    /// DAPO's overlong filtering (TRL: mask_truncated_completions): a completion that hit the length limit without an
    /// EOS has no verdict yet, so scoring it as wrong is noise; its tokens are removed from the loss by zeroing its
    /// row of the completion mask. <paramref name="truncated"/> is a bool [B] (true = hit the limit without EOS).
    /// Returns a new mask [B, T].
    /// </summary>
    public static Tensor MaskTruncated(Tensor completionMask, Tensor truncated)
    {
        if (completionMask.dim() != 2 || truncated.dim() != 1 || truncated.shape[0] != completionMask.shape[0])
            throw new ArgumentException("expected a completion mask [B, T] and a truncated flag [B]");
        using var scope = NewDisposeScope();
        var keep = truncated.to(ScalarType.Bool).logical_not().to(completionMask.dtype).unsqueeze(1);
        return (completionMask * keep).MoveToOuterDisposeScope();
    }
}

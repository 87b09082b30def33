using RlhfActors.Training.Model;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Rollouts;

/// <summary>
/// Per-token log-probabilities of completions under a model: what the learner (current policy), the reference model
/// and PPO's "old" policy all need. Sequences are prompt + completion, right-padded, so causal attention needs no
/// mask; completion token j of row b sits at column len(prompt_b) + j and is predicted by the logits one column left.
/// </summary>
public static class CompletionLogProbs
{
    /// <summary>log_softmax(logits / temperature) of each completion token, [B, Tc], and the completion mask [B, Tc]
    /// (1 for real tokens). Differentiable when grad mode is on. Tc = the longest completion.</summary>
    public static (Tensor LogProbs, Tensor Mask) Compute(DecoderModel model, IReadOnlyList<int[]> prompts,
        IReadOnlyList<int[]> completions, double temperature = 1.0, int padId = 0)
    {
        using var scope = NewDisposeScope();
        var (logits, mask, targets) = Logits(model, prompts, completions, temperature, padId);
        var logp = logits.log_softmax(-1).gather(-1, targets.unsqueeze(-1)).squeeze(-1);
        return ((logp * mask).MoveToOuterDisposeScope(), mask.MoveToOuterDisposeScope());
    }

    /// <summary>The logits ÷ temperature that predict each completion token, [B, Tc, V] (the whole next-token
    /// distribution at every completion position, what a distillation loss compares), the completion mask [B, Tc] and
    /// the completion tokens [B, Tc] (0 at padding). Differentiable when grad mode is on.</summary>
    public static (Tensor Logits, Tensor Mask, Tensor Targets) Logits(DecoderModel model, IReadOnlyList<int[]> prompts,
        IReadOnlyList<int[]> completions, double temperature = 1.0, int padId = 0)
    {
        if (prompts.Count != completions.Count) throw new ArgumentException("one completion per prompt");
        if (prompts.Any(p => p.Length == 0)) throw new ArgumentException("every prompt needs at least one token");
        if (temperature <= 0) throw new ArgumentException("temperature must be > 0");
        int batch = prompts.Count;
        int width = Enumerable.Range(0, batch).Max(b => prompts[b].Length + completions[b].Length);
        int completionWidth = Math.Max(1, completions.Max(c => c.Length));
        if (width > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"a sequence of {width} tokens exceeds max_position_embeddings ({model.Config.MaxPositionEmbeddings})");

        var ids = new long[batch * width];
        var gatherAt = new long[batch * completionWidth];
        var targets = new long[batch * completionWidth];
        var mask = new float[batch * completionWidth];
        Array.Fill(ids, padId);
        for (int b = 0; b < batch; b++)
        {
            int p = prompts[b].Length;
            for (int j = 0; j < p; j++) ids[b * width + j] = prompts[b][j];
            for (int j = 0; j < completions[b].Length; j++)
            {
                ids[b * width + p + j] = completions[b][j];
                gatherAt[b * completionWidth + j] = p + j - 1;
                targets[b * completionWidth + j] = completions[b][j];
                mask[b * completionWidth + j] = 1f;
            }
        }

        using var scope = NewDisposeScope();
        var device = model.parameters().First().device;
        var logits = model.Forward(tensor(ids, new long[] { batch, width }, device: device));      // [B, W, V]
        var at = tensor(gatherAt, new long[] { batch, completionWidth, 1 }, device: device)
            .expand(batch, completionWidth, logits.shape[2]);
        var completionLogits = logits.gather(1, at) / temperature;                                 // [B, Tc, V]
        return (completionLogits.MoveToOuterDisposeScope(),
            tensor(mask, new long[] { batch, completionWidth }, device: device).MoveToOuterDisposeScope(),
            tensor(targets, new long[] { batch, completionWidth }, device: device).MoveToOuterDisposeScope());
    }
}

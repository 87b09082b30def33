using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Preference;

/// <summary>Sequence log-probs of a batch of pairs, all [B]: sums over each completion's tokens, and the token
/// counts (float) that length-averaging variants (IPO, SimPO) divide by.</summary>
public sealed record PreferenceBatchLogProbs(Tensor ChosenLogp, Tensor RejectedLogp, Tensor ChosenLength, Tensor RejectedLength);

/// <summary>
/// log π(chosen | prompt) and log π(rejected | prompt) under a model. Pairs are encoded exactly like SFT examples
/// (<see cref="EncodedExample"/>: [bos] + prompt, completion + [eos]) so a DPO stage after SFT scores the sequences
/// the SFT model was trained on, eos included (which is how the model learns where a preferred answer stops).
/// Chosen and rejected go through one forward pass of 2B rows.
/// </summary>
public static class PreferenceLogProbs
{
    /// <summary>Differentiable when grad mode is on. Tensors land in the caller's dispose scope.</summary>
    public static PreferenceBatchLogProbs Compute(DecoderModel model, ITokenizer tokenizer, IReadOnlyList<PreferencePair> pairs)
    {
        if (pairs.Count == 0) throw new ArgumentException("no preference pairs");
        int batch = pairs.Count;
        var prompts = pairs.Select(p => EncodedExample.EncodePrompt(tokenizer, p.Prompt)).ToArray();
        int[] Completion(string text) => tokenizer.Encode(text).Append(tokenizer.EosId).ToArray();
        var completions = pairs.Select(p => Completion(p.Chosen)).Concat(pairs.Select(p => Completion(p.Rejected))).ToArray();

        using var scope = NewDisposeScope();
        var (logp, _) = CompletionLogProbs.Compute(model, prompts.Concat(prompts).ToArray(), completions, temperature: 1.0, tokenizer.PadId);
        var sums = logp.sum(1);                                   // padding is already 0 in logp
        var device = sums.device;
        var lengths = tensor(completions.Select(c => (float)c.Length).ToArray(), device: device).to(sums.dtype);
        return new PreferenceBatchLogProbs(
            sums.narrow(0, 0, batch).MoveToOuterDisposeScope(), sums.narrow(0, batch, batch).MoveToOuterDisposeScope(),
            lengths.narrow(0, 0, batch).MoveToOuterDisposeScope(), lengths.narrow(0, batch, batch).MoveToOuterDisposeScope());
    }

    /// <summary>Σ of the chosen completions' token counts (eos included), as <see cref="Compute"/> counts them: a
    /// data-parallel rank's RPO normaliser is the whole batch's.</summary>
    public static double ChosenTokens(ITokenizer tokenizer, IReadOnlyList<PreferencePair> pairs) =>
        pairs.Sum(p => tokenizer.Encode(p.Chosen).Count + 1.0);

    /// <summary>Per-pair (chosen, rejected) sequence log-probs as plain floats, without gradient: what a frozen
    /// reference computes once per pair (and what <see cref="ReferenceLogProbCache"/> stores).</summary>
    public static (float Chosen, float Rejected)[] Rows(DecoderModel model, ITokenizer tokenizer, IReadOnlyList<PreferencePair> pairs)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var logps = Compute(model, tokenizer, pairs);
        var chosen = logps.ChosenLogp.to(ScalarType.Float32).cpu().data<float>().ToArray();
        var rejected = logps.RejectedLogp.to(ScalarType.Float32).cpu().data<float>().ToArray();
        return chosen.Zip(rejected, (c, r) => (c, r)).ToArray();
    }
}

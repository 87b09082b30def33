using RlhfActors.Training.Data;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.RewardModeling;

/// <summary>A preference pair as token ids, encoded exactly as SFT encodes a prompt and a completion
/// (<see cref="EncodedExample"/>: [bos] + prompt; completion + [eos]), so the reward model scores text the way the
/// policy reads and writes it.</summary>
public sealed record EncodedPreference(int[] Prompt, int[] Chosen, int[] Rejected, double Margin)
{
    public int LongestLength => Prompt.Length + Math.Max(Chosen.Length, Rejected.Length);

    public static EncodedPreference Encode(ITokenizer tokenizer, PreferencePair pair, double margin = 0) => new(
        EncodedExample.EncodePrompt(tokenizer, pair.Prompt),
        EncodeCompletion(tokenizer, pair.Chosen),
        EncodeCompletion(tokenizer, pair.Rejected),
        margin);

    /// <summary>Completion text → its tokens + [eos]: the ids a policy emits for that text before it stops.</summary>
    public static int[] EncodeCompletion(ITokenizer tokenizer, string completion) =>
        tokenizer.Encode(completion).Append(tokenizer.EosId).ToArray();
}

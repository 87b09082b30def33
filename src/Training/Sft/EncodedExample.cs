using RlhfActors.Training.Data;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Sft;

/// <summary>An example as token ids: prompt = [bos] + prompt tokens, completion = completion tokens + [eos].
/// Training and evaluation both go through <see cref="Encode"/> so a model sees prompts exactly as it learned them.</summary>
public sealed record EncodedExample(int[] Prompt, int[] Completion)
{
    public int Length => Prompt.Length + Completion.Length;

    public static int[] EncodePrompt(ITokenizer tokenizer, string prompt) =>
        (tokenizer.BosId is int bos ? new[] { bos } : Array.Empty<int>()).Concat(tokenizer.Encode(prompt)).ToArray();

    public static EncodedExample Encode(ITokenizer tokenizer, PromptCompletion example) =>
        new(EncodePrompt(tokenizer, example.Prompt), tokenizer.Encode(example.Completion).Append(tokenizer.EosId).ToArray());
}

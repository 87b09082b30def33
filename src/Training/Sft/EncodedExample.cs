using RlhfActors.Training.Data;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Sft;

/// <summary>An example as token ids: prompt = [bos] + prompt tokens, completion = completion tokens + [eos], as TRL's
/// SFTTrainer builds them. Text a chat template rendered already holds its bos and its end-of-turn token, so the bos
/// is added only when the text does not start with it and the eos only when it does not end with it.
/// Training and evaluation both go through <see cref="Encode"/> so a model sees prompts exactly as it learned them.</summary>
public sealed record EncodedExample(int[] Prompt, int[] Completion)
{
    /// <summary>Which completion tokens the loss learns (a conversation's assistant turns); null: all of them.</summary>
    public bool[]? Trained { get; init; }

    public int Length => Prompt.Length + Completion.Length;

    /// <summary>Completion tokens the loss learns.</summary>
    public int TrainedTokens => Trained?.Count(t => t) ?? Completion.Length;

    /// <summary>Whether completion token <paramref name="index"/> is learned.</summary>
    public bool IsTrained(int index) => Trained is null || Trained[index];

    public static int[] EncodePrompt(ITokenizer tokenizer, string prompt)
    {
        var ids = tokenizer.Encode(prompt);
        return tokenizer.BosId is int bos && (ids.Count == 0 || ids[0] != bos) ? [bos, .. ids] : [.. ids];
    }

    public static EncodedExample Encode(ITokenizer tokenizer, PromptCompletion example)
    {
        var prompt = EncodePrompt(tokenizer, example.Prompt);
        var completion = new List<int>();
        List<bool>? trained = example.Segments is null ? null : [];
        foreach (var segment in example.Segments ?? [new TextSegment(example.Completion, true)])
        {
            var ids = tokenizer.Encode(segment.Text);
            completion.AddRange(ids);
            trained?.AddRange(Enumerable.Repeat(segment.Trained, ids.Count));
        }
        // A conversation's last turn ends in the template's end-of-turn token; the eos is appended after the last
        // learned token only when it is not already there, so it is learned either way.
        if (completion.Count == 0 || completion[^1] != tokenizer.EosId)
        {
            if (trained is null || trained.Count == 0 || trained[^1]) { completion.Add(tokenizer.EosId); trained?.Add(true); }
        }
        return new EncodedExample(prompt, [.. completion]) { Trained = trained?.ToArray() };
    }
}

using System.Text.Json.Nodes;
using RlhfActors.Tests.Data;
using RlhfActors.Tests.Tokenization;
using RlhfActors.Training.Chat;
using RlhfActors.Training.Data;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Tests.Chat;

/// <summary>TRL's conversational dataset forms through a real tokenizer folder and its chat template (Llama-3.2,
/// Qwen3): assistant-only loss over several turns, prompt/completion, RL prompts, the plain fallback, and errors at
/// file:line.</summary>
public sealed class ConversationalDataTests : IDisposable
{
    readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    static JsonArray Messages(string json) => JsonNode.Parse(json)!.AsArray();

    const string MultiTurn = """
        [{"role": "system", "content": "Answer in one word."}, {"role": "user", "content": "Capital of France?"},
         {"role": "assistant", "content": "Paris."}, {"role": "user", "content": "And of Japan?"}, {"role": "assistant", "content": "Tokyo."}]
        """;

    [Fact]
    public void Every_assistant_turn_is_learned_and_nothing_else()
    {
        var folder = RealTokenizerFiles.Unpack("llama3_2", _folder);
        var tokenizer = TokenizerFiles.Create(folder);
        var template = ChatTemplate.Load(folder)!;
        var example = ChatExamples.FromConversation(template, Messages(MultiTurn));

        Assert.EndsWith("And of Japan?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", example.Prompt + string.Concat(example.Segments!.TakeWhile(s => !s.Trained || s.Text != "Tokyo.<|eot_id|>").Select(s => s.Text)));
        Assert.EndsWith("<|start_header_id|>assistant<|end_header_id|>\n\n", example.Prompt);
        Assert.Equal(new[] { "Paris.<|eot_id|>", "Tokyo.<|eot_id|>" }, example.Segments!.Where(s => s.Trained).Select(s => s.Text));
        Assert.Contains(example.Segments!, s => !s.Trained && s.Text.Contains("And of Japan?"));
        Assert.Equal("Tokyo.", example.Reference);

        var encoded = EncodedExample.Encode(tokenizer, example);
        var full = template.Render(Messages(MultiTurn), addGenerationPrompt: false);
        // Encoding turn by turn gives the ids of the whole rendered text: every cut falls on a token boundary.
        Assert.Equal(tokenizer.Encode(full), encoded.Prompt.Concat(encoded.Completion));
        Assert.Equal(1, encoded.Prompt.Count(id => id == 128000)); // the template's bos, not a second one
        var learned = encoded.Completion.Where((_, i) => encoded.IsTrained(i)).ToArray();
        Assert.Equal("Paris.Tokyo.", tokenizer.Decode(learned));
        Assert.Equal(2, learned.Count(id => id == tokenizer.EosId)); // each turn's <|eot_id|> is learned; no eos appended
        Assert.Equal(tokenizer.EosId, encoded.Completion[^1]);

        var batch = SftBatch.Build([encoded], tokenizer.PadId, completionOnly: true);
        Assert.Equal(learned.Length, (int)batch.LossMask.Sum());
        Assert.Equal(learned.Length, SftBatch.LossTokens([encoded], completionOnly: true));
        Assert.Equal(learned, batch.Targets.Where((_, j) => batch.LossMask[j] == 1f).Select(t => (int)t));
    }

    [Fact]
    public void A_template_that_rewrites_earlier_turns_is_refused_with_the_way_out()
    {
        // Qwen3 renders a final assistant turn with an empty think block and earlier ones without.
        var template = ChatTemplate.Load(RealTokenizerFiles.Unpack("qwen3", _folder))!;
        var error = Assert.Throws<ChatTemplateException>(() => ChatExamples.FromConversation(template, Messages(MultiTurn)));
        Assert.Contains("messages[2]", error.Message);
        Assert.Contains("prompt/completion", error.Message);

        var single = ChatExamples.FromConversation(template, Messages("""[{"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]"""));
        Assert.Equal("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n", single.Prompt);
        Assert.Equal(new[] { "<think>\n\n</think>\n\n4<|im_end|>" }, single.Segments!.Where(s => s.Trained).Select(s => s.Text));
    }

    [Fact]
    public void Dataset_forms_read_with_the_folders_template()
    {
        var folder = RealTokenizerFiles.Unpack("llama3_2", _folder);
        var file = _folder.Write("forms.jsonl", string.Join("\n",
            """{"text": "Plain text to learn."}""",
            """{"prompt": [{"role": "user", "content": "2+2?"}], "completion": [{"role": "assistant", "content": "4"}]}""",
            """{"prompt": [{"role": "user", "content": "3+3?"}], "solution": "6"}""",
            """{"prompt": "5+5=", "answer": "10"}""",
            """{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}"""));
        var examples = JsonlDataset.ReadPromptCompletions(file, template: ChatTemplate.Load(folder));

        Assert.Equal(("", "Plain text to learn."), (examples[0].Prompt, examples[0].Completion));
        Assert.EndsWith("2+2?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n", examples[1].Prompt);
        Assert.Equal("4<|eot_id|>", examples[1].Completion);
        Assert.Equal("4", examples[1].Reference);
        Assert.EndsWith("<|start_header_id|>assistant<|end_header_id|>\n\n", examples[2].Prompt);
        Assert.Equal("6", examples[2].Reference);
        Assert.Equal(("5+5=", "10"), (examples[3].Prompt, examples[3].Completion));
        Assert.Equal("hello", examples[4].Reference);
    }

    [Fact]
    public void Without_a_template_messages_use_the_documented_plain_rendering()
    {
        var file = _folder.Write("chat.jsonl", """{"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4"}]}""");
        var example = Assert.Single(JsonlDataset.ReadPromptCompletions(file));
        Assert.Equal(("system: Be brief.\nuser: 2+2?\nassistant: ", "4"), (example.Prompt, example.Completion));
    }

    [Theory]
    [InlineData("""{"prompt": [{"role": "user", "content": "hi"}], "completion": [{"role": "assistant", "content": "x"}]}""", "needs the model's chat template")]
    [InlineData("""{"text": "a", "prompt": "b"}""", "has both 'prompt' and 'text'")]
    [InlineData("""{"question": "a"}""", "has none of 'prompt', 'messages' and 'text'")]
    [InlineData("""{"messages": [{"role": "user"}]}""", "messages[0].content must be a string")]
    [InlineData("""{"prompt": [{"role": "user", "content": "hi"}], "completion": "x"}""", "conversational prompt needs the model's chat template")]
    public void A_bad_line_is_an_error_at_its_file_and_line(string line, string expected)
    {
        var file = _folder.Write("bad.jsonl", """{"prompt": "ok", "completion": "ok"}""" + "\n" + line);
        var error = Assert.Throws<InvalidDataException>(() => JsonlDataset.ReadPromptCompletions(file));
        Assert.Contains($"{file}:2:", error.Message);
        Assert.Contains(expected, error.Message);
    }

    [Fact]
    public void A_template_refusal_names_the_line_and_the_template()
    {
        var folder = RealTokenizerFiles.Unpack("llama3_2", _folder);
        var gemma = Path.Combine(_folder.Path, "gemma");
        Directory.CreateDirectory(gemma);
        var entry = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Chat", "Templates", "gemma3.json")))!;
        File.WriteAllText(Path.Combine(gemma, "tokenizer_config.json"), new JsonObject { ["chat_template"] = entry["chat_template"]!.DeepClone(), ["bos_token"] = "<bos>" }.ToJsonString());
        // Gemma's template raises on roles that do not alternate user/assistant.
        var file = _folder.Write("turns.jsonl", """{"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}, {"role": "assistant", "content": "c"}]}""");
        var error = Assert.Throws<InvalidDataException>(() => JsonlDataset.ReadPromptCompletions(file, template: ChatTemplate.Load(gemma)));
        Assert.Contains($"{file}:1: chat template ({Path.Combine(gemma, "tokenizer_config.json")})", error.Message);
        Assert.Contains("alternate", error.Message);
        Assert.NotNull(folder);
    }
}

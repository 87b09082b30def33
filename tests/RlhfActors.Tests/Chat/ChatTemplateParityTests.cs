using System.Text.Json.Nodes;
using RlhfActors.Tests.Data;
using RlhfActors.Training.Chat;

namespace RlhfActors.Tests.Chat;

/// <summary>
/// Each family's real chat template (Chat/Templates, with where each came from) rendered by <see cref="ChatTemplate"/>
/// and by Python's jinja2 set up as transformers sets it up, on conversations with a system turn, several turns, the
/// generation prompt, tool calls and results, and reasoning: byte for byte the same text, or both refuse.
/// </summary>
public sealed class ChatTemplateParityTests : IDisposable
{
    readonly TempDirectory _folder = new();

    public void Dispose() => _folder.Dispose();

    static string TemplateDirectory => Path.Combine(AppContext.BaseDirectory, "Chat", "Templates");

    public static TheoryData<string> Families =>
        new(Directory.GetFiles(Path.Combine(AppContext.BaseDirectory, "Chat", "Templates"), "*.json").Select(Path.GetFileNameWithoutExtension).Order()!);

    [Theory]
    [MemberData(nameof(Families))]
    public void Renders_as_jinja2_renders_for_transformers(string family)
    {
        var entry = JsonNode.Parse(File.ReadAllText(Path.Combine(TemplateDirectory, family + ".json")))!.AsObject();
        var folder = Path.Combine(_folder.Path, family);
        Directory.CreateDirectory(folder);
        var config = new JsonObject { ["chat_template"] = entry["chat_template"]!.DeepClone() };
        foreach (var token in new[] { "bos_token", "eos_token" })
            if (entry[token] is not null) config[token] = entry[token]!.DeepClone();
        File.WriteAllText(Path.Combine(folder, "tokenizer_config.json"), config.ToJsonString());
        var template = ChatTemplate.Load(folder, () => Jinja2Reference.Now) ?? throw new InvalidOperationException("no template loaded");

        var conversations = JsonNode.Parse(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Chat", "conversations.json")))!.AsArray()
            .Select(c => c!.AsObject()).ToArray();
        var contexts = conversations.Select(c =>
        {
            var context = (JsonObject)c.DeepClone();
            context.Remove("name");
            foreach (var token in new[] { "bos_token", "eos_token" })
                if (entry[token] is not null) context[token] = entry[token]!.DeepClone();
            return context;
        }).ToArray();
        var expected = Jinja2Reference.Render((string)entry["chat_template"]!, contexts);

        var failures = new List<string>();
        int rendered = 0;
        for (int i = 0; i < conversations.Length; i++)
        {
            var name = (string)conversations[i]["name"]!;
            var variables = (JsonObject)contexts[i].DeepClone();
            var messages = variables["messages"]!.AsArray();
            bool generationPrompt = (bool)variables["add_generation_prompt"]!;
            foreach (var key in new[] { "messages", "add_generation_prompt", "bos_token", "eos_token" }) variables.Remove(key);
            string? ours = null, ourError = null;
            try { ours = template.Render(messages, generationPrompt, variables); }
            catch (ChatTemplateException e) { ourError = e.Message; }

            var (text, error) = expected[i];
            if (text is not null && ours != text)
                failures.Add($"{name}:\n--- jinja2 ---\n{text}\n--- ours ---\n{ours ?? "(error) " + ourError}");
            else if (error is not null && ourError is null)
                failures.Add($"{name}: jinja2 refused ({error}) but ours rendered:\n{ours}");
            else if (text is not null) rendered++;
        }
        Assert.True(failures.Count == 0, $"{family}: {failures.Count} differ\n" + string.Join("\n\n", failures));
        // Every family renders most conversations; a template that refuses everything would prove nothing.
        Assert.True(rendered >= 3, $"{family}: jinja2 rendered only {rendered} conversations");
    }
}

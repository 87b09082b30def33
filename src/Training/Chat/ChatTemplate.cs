using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfActors.Training.Chat;

/// <summary>
/// A tokenizer folder's chat template, rendered as transformers' apply_chat_template renders it: the template
/// (tokenizer_config.json's chat_template, or chat_template.jinja beside it as transformers ≥ 4.47 saves it) sees
/// <c>messages</c>, <c>add_generation_prompt</c>, the special-token strings (bos_token, eos_token, …), strftime_now,
/// and any extra variables (tools, enable_thinking, date_string). The rendered text already holds the template's
/// special tokens (a Llama-3 conversation starts with &lt;|begin_of_text|&gt;), so it is encoded without adding any.
/// </summary>
public sealed class ChatTemplate
{
    const string ConfigFileName = "tokenizer_config.json";
    public const string JinjaFileName = "chat_template.jinja";
    static readonly string[] SpecialTokenFields = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"];

    readonly JsonObject _specialTokens;
    readonly Func<DateTime> _now;

    ChatTemplate(string source, string origin, JsonObject specialTokens, Func<DateTime>? now)
    {
        Source = source;
        Origin = origin;
        _specialTokens = specialTokens;
        _now = now ?? (() => DateTime.Now);
    }

    /// <summary>The template text.</summary>
    public string Source { get; }
    /// <summary>The file it came from, for messages.</summary>
    public string Origin { get; }

    /// <summary>The template of <paramref name="tokenizerFolder"/>, or null when the folder has none.</summary>
    /// <param name="now">The clock strftime_now reads (Llama-3.x templates print today's date); tests pin it.</param>
    public static ChatTemplate? Load(string tokenizerFolder, Func<DateTime>? now = null)
    {
        var configPath = Path.Combine(tokenizerFolder, ConfigFileName);
        var jinjaPath = Path.Combine(tokenizerFolder, JinjaFileName);
        var specialTokens = new JsonObject();
        string? source = null, origin = null;
        if (File.Exists(configPath))
        {
            JsonNode? config;
            try { config = JsonNode.Parse(File.ReadAllText(configPath)); }
            catch (JsonException e) { throw new InvalidDataException($"{configPath}: not valid JSON: {e.Message}", e); }
            if (config is not JsonObject root) throw new InvalidDataException($"{configPath}: expected a JSON object");
            foreach (var field in SpecialTokenFields)
                if (TokenString(root[field]) is { } text) specialTokens[field] = text;
            if (root["additional_special_tokens"] is JsonArray additional)
                specialTokens["additional_special_tokens"] = new JsonArray(additional.Select(t => (JsonNode?)TokenString(t)).ToArray());
            (source, origin) = (ReadTemplate(root["chat_template"], configPath), configPath);
        }
        if (source is null && File.Exists(jinjaPath)) (source, origin) = (File.ReadAllText(jinjaPath), jinjaPath);
        return source is null ? null : new ChatTemplate(source, origin!, specialTokens, now);
    }

    /// <summary>Renders <paramref name="messages"/> (a list of {"role", "content", …} objects, passed to the template
    /// as they are). Throws <see cref="ChatTemplateException"/> when the template refuses them.</summary>
    public string Render(JsonArray messages, bool addGenerationPrompt, JsonObject? variables = null)
    {
        ArgumentNullException.ThrowIfNull(messages);
        var context = new JsonObject();
        foreach (var (name, value) in _specialTokens) context[name] = value?.DeepClone();
        if (variables is not null)
            foreach (var (name, value) in variables) context[name] = value?.DeepClone();
        context["messages"] = messages.DeepClone();
        context["add_generation_prompt"] = addGenerationPrompt;
        var contextJson = context.ToJsonString();
        var text = JinjaRuntime.Instance.Render(Source, contextJson, Strftime);
        // Where Python's jinja2 raises a TypeError (a template adding a dict to a string: DeepSeek-R1's expects tool
        // arguments as a JSON string), JavaScript coerces the object to "[object Map]". Refuse as jinja2 does.
        foreach (var coerced in new[] { "[object Map]", "[object Object]" })
            if (text.Contains(coerced, StringComparison.Ordinal) && !contextJson.Contains(coerced, StringComparison.Ordinal))
                throw new ChatTemplateException($"the template joined a mapping to a string (it rendered '{coerced}'); " +
                    "check the message fields it expects as strings, such as tool_calls[].function.arguments");
        return text;
    }

    /// <summary>Python's strftime for the codes chat templates use, in the C locale (English names).</summary>
    string Strftime(string format)
    {
        var now = _now();
        var text = new System.Text.StringBuilder();
        for (int i = 0; i < format.Length; i++)
        {
            if (format[i] != '%' || i + 1 == format.Length) { text.Append(format[i]); continue; }
            var code = format[++i];
            text.Append(code switch
            {
                'Y' => now.ToString("yyyy", CultureInfo.InvariantCulture),
                'y' => now.ToString("yy", CultureInfo.InvariantCulture),
                'm' => now.ToString("MM", CultureInfo.InvariantCulture),
                'd' => now.ToString("dd", CultureInfo.InvariantCulture),
                'b' => now.ToString("MMM", CultureInfo.InvariantCulture),
                'B' => now.ToString("MMMM", CultureInfo.InvariantCulture),
                'a' => now.ToString("ddd", CultureInfo.InvariantCulture),
                'A' => now.ToString("dddd", CultureInfo.InvariantCulture),
                'H' => now.ToString("HH", CultureInfo.InvariantCulture),
                'M' => now.ToString("mm", CultureInfo.InvariantCulture),
                'S' => now.ToString("ss", CultureInfo.InvariantCulture),
                'j' => now.DayOfYear.ToString("000", CultureInfo.InvariantCulture),
                '%' => "%",
                _ => "%" + code,
            });
        }
        return text.ToString();
    }

    /// <summary>A string, or a list of {"name", "template"} from which transformers takes "default".</summary>
    static string? ReadTemplate(JsonNode? node, string configPath) => node switch
    {
        null => null,
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonArray list => list.OfType<JsonObject>().FirstOrDefault(t => (string?)t["name"] == "default")?["template"]?.GetValue<string>()
            ?? throw new InvalidDataException($"{configPath}: field 'chat_template' is a list without a \"default\" template"),
        _ => throw new InvalidDataException($"{configPath}: field 'chat_template' must be a string or a list of {{\"name\", \"template\"}}"),
    };

    /// <summary>A special token written as a string or as an AddedToken object {"content": …}.</summary>
    static string? TokenString(JsonNode? node) => node switch
    {
        JsonValue value when value.TryGetValue<string>(out var text) => text,
        JsonObject added when added["content"] is JsonValue content && content.TryGetValue<string>(out var text) => text,
        _ => null,
    };
}

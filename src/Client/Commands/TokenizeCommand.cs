using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Nodes;
using RlhfActors.Training.Chat;
using RlhfActors.Training.Model;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf tokenize --model &lt;dir&gt; (--text T | --text-file F) [--no-special-tokens] [--json]</c> prints the ids and
/// tokens transformers' tokenizer gives (add_special_tokens=True unless --no-special-tokens);
/// <c>rlhf tokenize --model &lt;dir&gt; --messages F [--add-generation-prompt] [--json]</c> renders the folder's chat
/// template over the messages of F and prints the text and its ids (encoded without adding special tokens, as
/// apply_chat_template(tokenize=True) does). A folder holding only tokenizer.json and tokenizer_config.json is enough.
/// </summary>
public static class TokenizeCommand
{
    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model") { Description = "Folder holding tokenizer.json (and tokenizer_config.json): a model folder, checkpoint or adapter", Required = true };
        var text = new Option<string?>("--text") { Description = "Text to encode" };
        var textFile = new Option<string?>("--text-file") { Description = "File whose whole content (UTF-8) is the text to encode" };
        var messages = new Option<string?>("--messages") { Description = "JSON file with a list of {\"role\", \"content\"} messages to render with the chat template" };
        var noSpecial = new Option<bool>("--no-special-tokens") { Description = "Add no special tokens (add_special_tokens=False)" };
        var generationPrompt = new Option<bool>("--add-generation-prompt") { Description = "With --messages: end with the template's assistant header" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object" };
        var command = new Command("tokenize", "Encode text, or render a chat template, with a model folder's tokenizer")
        {
            model, text, textFile, messages, noSpecial, generationPrompt, json,
        };
        command.SetAction(parse => Execute(cli, parse.GetValue(model)!, parse.GetValue(text), parse.GetValue(textFile),
            parse.GetValue(messages), parse.GetValue(noSpecial), parse.GetValue(generationPrompt), parse.GetValue(json)));
        return command;
    }

    static int Execute(CliContext cli, string model, string? text, string? textFile, string? messagesFile, bool noSpecial,
        bool generationPrompt, bool json)
    {
        int Usage(string message)
        {
            cli.Stderr.WriteLine($"error: {message}");
            return ExitCodes.Usage;
        }

        if (new[] { text, textFile, messagesFile }.Count(v => v is not null) != 1)
            return Usage("give exactly one of --text, --text-file and --messages");
        if (messagesFile is null && generationPrompt) return Usage("--add-generation-prompt goes with --messages");
        if (messagesFile is not null && noSpecial) return Usage("--no-special-tokens goes with --text or --text-file (a rendered template adds none)");
        var folder = Path.GetFullPath(model);
        if (!Directory.Exists(folder)) return Usage($"--model: folder '{folder}' does not exist");
        try
        {
            var tokenizerFolder = ModelFolders.TokenizerFolder(folder, TokenizerFiles.FolderFiles);
            if (!TokenizerFiles.FolderHasTokenizer(tokenizerFolder)) return Usage($"--model: '{tokenizerFolder}' has no tokenizer.json");
            var tokenizer = TokenizerFiles.Create(tokenizerFolder);
            if (messagesFile is not null)
            {
                var template = ChatTemplate.Load(tokenizerFolder)
                    ?? throw new InvalidDataException($"'{tokenizerFolder}' has no chat template (tokenizer_config.json's chat_template, or {ChatTemplate.JinjaFileName})");
                var rendered = template.Render(ChatMessagesFile.Read(Path.GetFullPath(messagesFile)), generationPrompt);
                var ids = tokenizer.Encode(rendered);
                if (json) cli.Stdout.WriteLine(new JsonObject { ["text"] = rendered, ["ids"] = Array(ids) }.ToJsonString(Output));
                else cli.Stdout.WriteLine($"{rendered}\n{string.Join(' ', ids)}");
                return ExitCodes.Ok;
            }

            if (textFile is not null && !File.Exists(textFile)) return Usage($"--text-file: '{textFile}' does not exist");
            var input = text ?? File.ReadAllText(textFile!);
            var encoded = noSpecial ? tokenizer.Encode(input) : tokenizer.EncodeWithSpecialTokens(input);
            var tokens = encoded.Select(id => tokenizer.TokenText(id)).ToArray();
            if (json)
                cli.Stdout.WriteLine(new JsonObject
                {
                    ["ids"] = Array(encoded),
                    ["tokens"] = new JsonArray(tokens.Select(t => (JsonNode?)t).ToArray()),
                }.ToJsonString(Output));
            else cli.Stdout.WriteLine($"{string.Join(' ', encoded)}\n{string.Join(' ', tokens.Select(t => JsonSerializer.Serialize(t, Output)))}");
            return ExitCodes.Ok;
        }
        catch (Exception e) when (e is InvalidDataException or ChatTemplateException or IOException or ArgumentException)
        {
            return Usage(e.Message);
        }
    }

    static readonly JsonSerializerOptions Output = new() { Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    static JsonArray Array(IReadOnlyList<int> ids) => new(ids.Select(id => (JsonNode?)id).ToArray());
}

using RlhfActors.Training.Sft;
using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using RlhfActors.Training.Chat;
using RlhfActors.Training.Checkpoints;
using System.Text.Json.Nodes;
using RlhfActors.Training.Model;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Client.Commands;

/// <summary>
/// <c>rlhf generate --model &lt;hf-folder&gt; (--prompt TEXT | --ids 1,2,3) …</c>: sample from a Hugging Face
/// model folder in this process (no silo). Generation stops at the config's eos_token_id(s).
/// </summary>
public static class GenerateCommand
{
    public static Command Create(CliContext cli)
    {
        var model = new Option<string>("--model") { Description = "Hugging Face model folder (config.json + model.safetensors), or a PEFT adapter folder whose base_model_name_or_path is a local folder", Required = true };
        var prompt = new Option<string?>("--prompt") { Description = "Prompt text, encoded with the folder's tokenizer (its BOS token prepended when it has one)" };
        var ids = new Option<string?>("--ids") { Description = "Prompt token ids, comma-separated: 1,2,3" };
        var maxNewTokens = new Option<int>("--max-new-tokens") { Description = "Tokens to generate at most", DefaultValueFactory = _ => 64 };
        var greedy = new Option<bool>("--greedy") { Description = "Take the most likely token (ignores temperature, top-k, top-p)" };
        var temperature = new Option<double?>("--temperature") { Description = "Sampling temperature (> 0); default: generation_config.json's, else 1" };
        var topK = new Option<int?>("--top-k") { Description = "Keep the k most likely tokens; 0 = all; default: generation_config.json's, else 0" };
        var topP = new Option<double?>("--top-p") { Description = "Nucleus sampling mass in (0, 1]; default: generation_config.json's, else 1" };
        var chat = new Option<bool>("--chat") { Description = "Send --prompt as one user message through the folder's chat template (with the generation prompt)" };
        var seed = new Option<long>("--seed") { Description = "Random seed", DefaultValueFactory = _ => 1 };
        var dtype = new Option<string>("--dtype") { Description = "Compute dtype", DefaultValueFactory = _ => "fp32" };
        dtype.AcceptOnlyFromAmong("fp32", "bf16");
        var json = new Option<bool>("--json") { Description = "Print {\"ids\": [...], \"logprobs\": [...]} of the new tokens" };

        var command = new Command("generate", "Generate from a Hugging Face model folder (in-process)")
        {
            model, prompt, ids, maxNewTokens, greedy, temperature, topK, topP, seed, dtype, json, chat,
        };
        command.SetAction(parse =>
        {
            var request = new Request(
                parse.GetValue(model)!, parse.GetValue(prompt), parse.GetValue(ids), parse.GetValue(maxNewTokens),
                parse.GetValue(greedy), parse.GetValue(temperature), parse.GetValue(topK), parse.GetValue(topP),
                parse.GetValue(seed), parse.GetValue(dtype)!, parse.GetValue(json), parse.GetValue(chat));
            return Execute(request, cli);
        });
        return command;
    }

    sealed record Request(string Model, string? Prompt, string? Ids, int MaxNewTokens, bool Greedy, double? Temperature,
        int? TopK, double? TopP, long Seed, string DType, bool Json, bool Chat);

    static int Execute(Request r, CliContext cli)
    {
        int Usage(string message)
        {
            cli.Stderr.WriteLine($"error: {message}");
            return ExitCodes.Usage;
        }

        if (r.Prompt is null == r.Ids is null) return Usage("give exactly one of --prompt and --ids");
        if (r.MaxNewTokens <= 0) return Usage($"--max-new-tokens must be > 0 (got {r.MaxNewTokens})");
        if (r.Chat && r.Prompt is null) return Usage("--chat goes with --prompt");
        if (r.Temperature is { } t && (!(t > 0) || !double.IsFinite(t))) return Usage($"--temperature must be > 0 (got {Show(t)})");
        if (r.TopK < 0) return Usage($"--top-k must be >= 0 (got {r.TopK})");
        if (r.TopP is { } p && !(p > 0 && p <= 1)) return Usage($"--top-p must be in (0, 1] (got {Show(p)})");
        int[]? promptIds = null;
        if (r.Ids is not null && !TryParseIds(r.Ids, out promptIds, out var idError)) return Usage(idError);

        var folder = Path.GetFullPath(r.Model);
        if (!Directory.Exists(folder)) return Usage($"--model: folder '{folder}' does not exist");
        // A PEFT adapter folder takes its config (and, when it has none, its tokenizer) from its base folder.
        string configFolder, tokenizerFolder;
        try
        {
            configFolder = ModelFolders.ConfigFolder(folder);
            tokenizerFolder = ModelFolders.TokenizerFolder(folder, TokenizerFiles.FolderFiles);
        }
        catch (InvalidDataException e) { return Usage($"--model: {e.Message}"); }
        // One of our checkpoints is verified before anything is read from it: a file changed since it was written
        // is refused with both hashes, never sampled from.
        try
        {
            ModelFolderDigest.VerifyIfCheckpoint(folder);
            if (configFolder != folder) ModelFolderDigest.VerifyIfCheckpoint(configFolder);
        }
        catch (InvalidDataException e) { return Usage($"--model: {e.Message}"); }
        var configPath = Path.Combine(configFolder, "config.json");
        if (!File.Exists(configPath)) return Usage($"--model: '{folder}' has no config.json (not a Hugging Face model folder) and no adapter_config.json (not a PEFT adapter folder)");
        // tokenizer.json, or the marker of the built-in character tokenizer that checkpoints carry.
        var hasTokenizer = TokenizerFiles.FolderHasTokenizer(tokenizerFolder);
        if (r.Prompt is not null && !hasTokenizer)
            return Usage($"--prompt needs a tokenizer, and '{tokenizerFolder}' has no tokenizer.json; pass token ids with --ids");

        try
        {
            var config = ModelConfig.Load(configPath);
            // config.json's end ids and generation_config.json's (an instruct model's end of turn).
            var stops = GenerationConfig.StopTokens(configFolder, config);
            var tokenizer = hasTokenizer ? TokenizerFiles.Create(tokenizerFolder) : null;
            if (promptIds is null)
            {
                // The same prompt encoding as training ([bos] + tokens), so a checkpoint sees what it learned on.
                var promptText = r.Prompt!;
                if (r.Chat)
                {
                    var template = ChatTemplate.Load(tokenizerFolder)
                        ?? throw new InvalidDataException($"--chat: '{tokenizerFolder}' has no chat template (tokenizer_config.json's chat_template, or {ChatTemplate.JinjaFileName})");
                    promptText = ChatExamples.Prompt(template, new JsonArray(new JsonObject { ["role"] = "user", ["content"] = promptText }));
                }
                promptIds = EncodedExample.EncodePrompt(tokenizer!, promptText);
            }
            if (promptIds.Length == 0) return Usage("the prompt is empty");
            if (promptIds.Where(id => id >= config.VocabSize).Select(id => (int?)id).FirstOrDefault() is { } outside)
                return Usage($"token id {outside} is outside the model's vocabulary (vocab_size {config.VocabSize})");

            // Settings not given on the command line come from generation_config.json, as in transformers' generate.
            var defaults = GenerationConfig.Sampling(configFolder);
            bool sampling = r.Temperature is not null || r.TopK is not null || r.TopP is not null || defaults.DoSample != false;
            var options = new SamplingOptions
            {
                MaxNewTokens = r.MaxNewTokens,
                Greedy = r.Greedy || !sampling,
                Temperature = r.Temperature ?? defaults.Temperature ?? 1.0,
                TopK = r.TopK ?? defaults.TopK ?? 0,
                TopP = r.TopP ?? defaults.TopP ?? 1.0,
                Seed = r.Seed,
                StopTokens = stops,
            };
            var result = FolderGeneration.Generate(folder, [promptIds], options, r.DType, verified: true);
            var newIds = result.Ids[0];
            var logProbs = result.LogProbs[0];
            // The stop token is part of the output ids but not of the text.
            var text = tokenizer?.Decode(newIds.Where((id, i) => !(i == newIds.Length - 1 && stops.Contains(id))));
            if (r.Json) cli.Stdout.WriteLine(ResultJson(newIds, logProbs, text));
            else cli.Stdout.WriteLine(text ?? string.Join(' ', newIds));
            return ExitCodes.Ok;
        }
        catch (ChatTemplateException e) { return Usage($"--chat: {e.Message}"); }
        catch (Exception e) when (e is InvalidDataException or IOException or ArgumentException or InvalidOperationException
                                       or System.Runtime.InteropServices.ExternalException or OutOfMemoryException)
        {
            // ExternalException: libtorch refused (an allocation, a shape); its message, never a stack trace.
            cli.Stderr.WriteLine($"error: generate failed: {e.Message}");
            return ExitCodes.Failed;
        }
    }

    static bool TryParseIds(string text, out int[] ids, out string error)
    {
        var parts = text.Split(',', StringSplitOptions.TrimEntries);
        ids = new int[parts.Length];
        error = "";
        for (var i = 0; i < parts.Length; i++)
        {
            if (!int.TryParse(parts[i], NumberStyles.None, CultureInfo.InvariantCulture, out ids[i]))
            {
                error = $"--ids: '{parts[i]}' is not a token id (expected comma-separated non-negative integers, e.g. 1,2,3)";
                return false;
            }
        }
        return true;
    }

    static string ResultJson(int[] ids, float[] logProbs, string? text)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteStartArray("ids");
            foreach (var id in ids) w.WriteNumberValue(id);
            w.WriteEndArray();
            w.WriteStartArray("logprobs");
            foreach (var lp in logProbs)
            {
                if (float.IsFinite(lp)) w.WriteNumberValue(lp);
                else w.WriteNullValue();
            }
            w.WriteEndArray();
            if (text is not null) w.WriteString("text", text);
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    static string Show(double v) => v.ToString(CultureInfo.InvariantCulture);
}

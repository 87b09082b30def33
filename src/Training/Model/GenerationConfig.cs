using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfActors.Training.Model;

/// <summary>
/// A model folder's <c>generation_config.json</c>, as far as it decides where generation stops: its
/// <c>eos_token_id</c>, one id or a list. Instruct models name their turn's end here and only the base's end in
/// config.json (Llama-3-Instruct: config.json says 128001, generation_config.json [128001, 128008, 128009]), so
/// generation that stopped only at config.json's ids would run past <c>&lt;|eot_id|&gt;</c>. Transformers'
/// <c>generate</c> takes the stop ids from here; so do <see cref="StopTokens"/> (rlhf generate) and
/// <see cref="Tokenization.ITokenizer.StopIds"/> (evaluation and rollouts). Its sampling settings are
/// <c>rlhf generate</c>'s defaults only: as in TRL, a run's rollouts sample with the algorithm's own temperature and
/// top-p/top-k, and evaluation is greedy.
/// </summary>
public static class GenerationConfig
{
    public const string FileName = "generation_config.json";

    /// <summary>The ids generation stops at for a model in <paramref name="folder"/>: config.json's eos ids and
    /// generation_config.json's, when the folder has one. Throws InvalidDataException naming the file and field when
    /// generation_config.json is not what transformers writes.</summary>
    public static IReadOnlyList<int> StopTokens(string folder, ModelConfig config) =>
        [.. config.EosTokenIds.Concat(EosIds(folder)).Distinct()];

    /// <summary>generation_config.json's <c>eos_token_id</c> (one id or a list) in <paramref name="folder"/>; empty
    /// when there is no such file or field.</summary>
    public static IReadOnlyList<int> EosIds(string folder)
    {
        var (path, document) = Read(folder);
        if (document is null) return [];
        using (document)
        {
            if (!document.RootElement.TryGetProperty("eos_token_id", out var eos) || eos.ValueKind == JsonValueKind.Null) return [];
            return eos.ValueKind switch
            {
                JsonValueKind.Number => [Id(eos, path)],
                JsonValueKind.Array => eos.EnumerateArray().Select(e => Id(e, path)).ToArray(),
                _ => throw new InvalidDataException($"{path}: field 'eos_token_id' must be a token id or a list of them"),
            };
        }
    }

    /// <summary>What transformers' save_pretrained writes for a model without a generation_config.json of its own
    /// (<c>GenerationConfig.from_model_config</c>): config.json's bos and eos ids, marked as derived.</summary>
    public static byte[] FromModelConfig(ModelConfig config)
    {
        var node = new JsonObject { ["_from_model_config"] = true };
        if (config.BosTokenId is int bos) node["bos_token_id"] = bos;
        if (config.EosTokenIdRaw is { } eos) node["eos_token_id"] = JsonNode.Parse(eos.GetRawText());
        return Encoding.UTF8.GetBytes(node.ToJsonString(new JsonSerializerOptions { WriteIndented = true }) + "\n");
    }

    /// <summary>generation_config.json's sampling settings (do_sample, temperature, top_k, top_p), each null where the
    /// folder has no such file or the file no such field (do_sample then false, transformers' default). Transformers' generate uses them when the caller passes none.</summary>
    public static SamplingDefaults Sampling(string folder)
    {
        var (path, document) = Read(folder);
        if (document is null) return new SamplingDefaults(null, null, null, null);
        using (document)
        {
            var root = document.RootElement;
            JsonElement? Field(string name) => root.TryGetProperty(name, out var value) && value.ValueKind != JsonValueKind.Null ? value : null;
            double? Number(string name) => Field(name) is { } v
                ? v.ValueKind == JsonValueKind.Number ? v.GetDouble() : throw new InvalidDataException($"{path}: field '{name}' must be a number")
                : null;
            // transformers' GenerationConfig defaults do_sample to false: a file that does not ask for sampling is greedy.
            bool doSample = Field("do_sample") is { } d
                ? d.ValueKind is JsonValueKind.True or JsonValueKind.False ? d.GetBoolean() : throw new InvalidDataException($"{path}: field 'do_sample' must be true or false")
                : false;
            var topK = Number("top_k");
            if (topK is { } k && (k < 0 || k != Math.Floor(k))) throw new InvalidDataException($"{path}: field 'top_k' must be a whole number >= 0");
            return new SamplingDefaults(doSample, Number("temperature"), topK is null ? null : (int)topK, Number("top_p"));
        }
    }

    /// <summary>The folder's generation_config.json as a JSON object, or null when there is none.</summary>
    static (string Path, JsonDocument? Document) Read(string folder)
    {
        var path = Path.Combine(folder, FileName);
        if (!File.Exists(path)) return (path, null);
        JsonDocument document;
        try { document = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e); }
        if (document.RootElement.ValueKind == JsonValueKind.Object) return (path, document);
        document.Dispose();
        throw new InvalidDataException($"{path}: expected a JSON object");
    }

    static int Id(JsonElement element, string path) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt32(out var id) && id >= 0
            ? id
            : throw new InvalidDataException($"{path}: field 'eos_token_id' holds {element.GetRawText()}, which is not a token id");
}

/// <summary>The sampling settings a model folder's generation_config.json names; null where it names none.</summary>
public sealed record SamplingDefaults(bool? DoSample, double? Temperature, int? TopK, double? TopP);

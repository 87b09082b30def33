using System.Text.Json;
using System.Text.Json.Serialization;

namespace RlhfActors.Training.Model;

/// <summary>
/// The fields of a Hugging Face <c>config.json</c> that define a Llama / Qwen2 / Qwen3 / Mistral decoder.
/// JSON names are Hugging Face's, so a config written here loads there and the reverse.
/// </summary>
public sealed record ModelConfig
{
    [JsonPropertyName("model_type")] public string ModelType { get; init; } = "llama";
    [JsonPropertyName("architectures")] public string[]? Architectures { get; init; }
    [JsonPropertyName("vocab_size")] public int VocabSize { get; init; }
    [JsonPropertyName("hidden_size")] public int HiddenSize { get; init; }
    [JsonPropertyName("intermediate_size")] public int IntermediateSize { get; init; }
    [JsonPropertyName("num_hidden_layers")] public int NumHiddenLayers { get; init; }
    [JsonPropertyName("num_attention_heads")] public int NumAttentionHeads { get; init; }
    [JsonPropertyName("num_key_value_heads")] public int? NumKeyValueHeads { get; init; }
    [JsonPropertyName("head_dim")] public int? HeadDimOverride { get; init; }
    [JsonPropertyName("rms_norm_eps")] public double RmsNormEps { get; init; } = 1e-6;
    [JsonPropertyName("rope_theta")] public double RopeTheta { get; init; } = 10000.0;
    [JsonPropertyName("rope_scaling")] public RopeScaling? RopeScaling { get; init; }
    [JsonPropertyName("max_position_embeddings")] public int MaxPositionEmbeddings { get; init; } = 2048;
    [JsonPropertyName("tie_word_embeddings")] public bool TieWordEmbeddings { get; init; }
    /// <summary>Llama's flag for q/k/v/o biases. Qwen2 has q/k/v biases whatever this says.</summary>
    [JsonPropertyName("attention_bias")] public bool AttentionBias { get; init; }
    [JsonPropertyName("hidden_act")] public string HiddenAct { get; init; } = "silu";
    [JsonPropertyName("bos_token_id")] public int? BosTokenId { get; init; }
    [JsonPropertyName("eos_token_id")] public JsonElement? EosTokenIdRaw { get; init; }
    [JsonPropertyName("torch_dtype")] public string? TorchDtype { get; init; }
    /// <summary>Every other field of the file (initializer_range, attention_dropout, transformers_version, …): none of
    /// them changes this decoder's math (those that would are named above and refused in <see cref="Validate"/>), and
    /// they are written back as read, so a saved folder keeps what the original said.</summary>
    [JsonExtensionData] public Dictionary<string, JsonElement>? OtherFields { get; init; }
    // Read only to be refused when they ask for what is not implemented (Validate); kept on save as given.
    [JsonPropertyName("use_sliding_window")] public bool? UseSlidingWindow { get; init; }
    /// <summary>Mistral attends to the last <c>sliding_window</c> positions only (see <see cref="AttentionWindow"/>);
    /// Qwen2/3 carry the field too but apply it only under use_sliding_window, which is refused.</summary>
    [JsonPropertyName("sliding_window")] public int? SlidingWindow { get; init; }
    [JsonPropertyName("mlp_bias")] public bool? MlpBias { get; init; }
    [JsonPropertyName("partial_rotary_factor")] public double? PartialRotaryFactor { get; init; }

    [JsonIgnore] public int KeyValueHeads => NumKeyValueHeads ?? NumAttentionHeads;
    [JsonIgnore] public int HeadDim => HeadDimOverride ?? HiddenSize / NumAttentionHeads;
    [JsonIgnore] public bool IsQwen2 => ModelType == "qwen2";
    [JsonIgnore] public bool IsQwen3 => ModelType == "qwen3";
    /// <summary>Mistral is Llama's layout (same tensor names, no biases) with a sliding attention window.</summary>
    [JsonIgnore] public bool IsMistral => ModelType == "mistral";
    /// <summary>How many positions back a query may attend (itself included), or null for the whole context:
    /// Mistral's sliding_window (null in v0.2 and later).</summary>
    [JsonIgnore] public int? AttentionWindow => IsMistral ? SlidingWindow : null;
    /// <summary>Qwen3 normalises every query and key head (RMSNorm over head_dim) before the rotary embedding.</summary>
    [JsonIgnore] public bool QkNorm => IsQwen3;
    /// <summary>q/k/v projections carry a bias: always for Qwen2, when attention_bias for Llama.</summary>
    [JsonIgnore] public bool QkvBias => IsQwen2 || AttentionBias;
    /// <summary>o_proj carries a bias only for Llama with attention_bias (Qwen2's o_proj has none).</summary>
    [JsonIgnore] public bool OutputBias => !IsQwen2 && AttentionBias;

    /// <summary>End-of-sequence ids: config.json allows one int or a list.</summary>
    [JsonIgnore]
    public IReadOnlyList<int> EosTokenIds => EosTokenIdRaw switch
    {
        { ValueKind: JsonValueKind.Number } e => new[] { e.GetInt32() },
        { ValueKind: JsonValueKind.Array } e => e.EnumerateArray().Select(x => x.GetInt32()).ToArray(),
        _ => Array.Empty<int>(),
    };

    static readonly JsonSerializerOptions JsonOptions = new()
    {
        WriteIndented = true,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
    };

    /// <summary>Parses config.json text; <paramref name="source"/> names the file in errors.</summary>
    public static ModelConfig Parse(string json, string source)
    {
        ModelConfig? config;
        try { config = JsonSerializer.Deserialize<ModelConfig>(json, JsonOptions); }
        catch (JsonException e) { throw new InvalidDataException($"{source}: not a valid config.json: {e.Message}", e); }
        if (config is null) throw new InvalidDataException($"{source}: empty config.json");
        config.Validate(source);
        return config;
    }

    public static ModelConfig Load(string path) => Parse(File.ReadAllText(path), path);

    public string ToJson()
    {
        // Hugging Face wants architectures to load the right class; fill it in when absent.
        var withArch = Architectures is null
            ? this with { Architectures = new[] { IsQwen3 ? "Qwen3ForCausalLM" : IsQwen2 ? "Qwen2ForCausalLM" : IsMistral ? "MistralForCausalLM" : "LlamaForCausalLM" } }
            : this;
        return JsonSerializer.Serialize(withArch, JsonOptions);
    }

    /// <summary>Throws an error naming the field when the config cannot describe a decoder.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string field, string why)
        {
            if (!ok) throw new InvalidDataException($"{source}: field '{field}' {why}");
        }
        Require(ModelType is "llama" or "qwen2" or "qwen3" or "mistral", "model_type", $"is '{ModelType}'; supported: llama, qwen2, qwen3, mistral");
        Require(VocabSize > 0, "vocab_size", "must be > 0");
        Require(HiddenSize > 0, "hidden_size", "must be > 0");
        Require(IntermediateSize > 0, "intermediate_size", "must be > 0");
        Require(NumHiddenLayers > 0, "num_hidden_layers", "must be > 0");
        Require(NumAttentionHeads > 0, "num_attention_heads", "must be > 0");
        Require(HeadDimOverride is not null || HiddenSize % NumAttentionHeads == 0, "num_attention_heads", "must divide hidden_size");
        Require(KeyValueHeads > 0 && NumAttentionHeads % KeyValueHeads == 0, "num_key_value_heads", "must divide num_attention_heads");
        Require(HeadDim % 2 == 0, "head_dim", "must be even for rotary embeddings");
        Require(RmsNormEps > 0, "rms_norm_eps", "must be > 0");
        Require(RopeTheta > 0, "rope_theta", "must be > 0");
        RopeScaling?.Validate(source);
        // Fields that change the math and are not implemented: refused by name rather than ignored.
        Require(UseSlidingWindow != true, "use_sliding_window", "is true; sliding-window attention is not implemented (every layer attends to the whole context)");
        Require(!IsMistral || SlidingWindow is null or > 0, "sliding_window", "must be > 0 (or null for attention over the whole context)");
        Require(MlpBias != true, "mlp_bias", "is true; the MLP's biases are not implemented");
        Require(PartialRotaryFactor is null or 1.0, "partial_rotary_factor", $"is {PartialRotaryFactor?.ToString(System.Globalization.CultureInfo.InvariantCulture)}; only rotary embeddings over the whole head (1.0) are implemented");
        Require(MaxPositionEmbeddings > 0, "max_position_embeddings", "must be > 0");
        Require(HiddenAct == "silu", "hidden_act", $"is '{HiddenAct}'; only silu (SwiGLU) is supported");
    }
}

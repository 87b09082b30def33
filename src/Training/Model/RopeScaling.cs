using System.Text.Json;
using System.Text.Json.Serialization;

namespace RlhfActors.Training.Model;

/// <summary>
/// config.json's <c>rope_scaling</c>: how a model stretches its rotary embeddings past the context it was pre-trained
/// on. Implemented here as transformers computes them (<c>modeling_rope_utils.py</c>; the formulas are in
/// <see cref="RotaryEmbedding.InverseFrequencies"/>): <c>linear</c>, <c>dynamic</c> (NTK), <c>llama3</c> (every
/// Llama-3.1 and 3.2 model) and <c>yarn</c> (Qwen2.5/Qwen3 long context, DeepSeek-V3, gpt-oss). Any other type
/// (longrope, …) is refused by name rather than silently dropped: it would change every output. Keys this record does
/// not name survive a save.
/// </summary>
public sealed record RopeScaling
{
    /// <summary>The types implemented, as transformers names them ("default" is no scaling).</summary>
    public static readonly IReadOnlyList<string> Types = ["default", "linear", "dynamic", "llama3", "yarn"];

    [JsonPropertyName("rope_type")] public string? RopeType { get; init; }
    /// <summary>The legacy name of <see cref="RopeType"/> (configs written before transformers 4.45).</summary>
    [JsonPropertyName("type")] public string? LegacyType { get; init; }
    [JsonPropertyName("factor")] public double? Factor { get; init; }
    [JsonPropertyName("low_freq_factor")] public double? LowFreqFactor { get; init; }
    [JsonPropertyName("high_freq_factor")] public double? HighFreqFactor { get; init; }
    [JsonPropertyName("original_max_position_embeddings")] public int? OriginalMaxPositionEmbeddings { get; init; }
    // yarn's optional settings, with transformers' defaults applied in RotaryEmbedding.InverseFrequencies.
    [JsonPropertyName("attention_factor")] public double? AttentionFactor { get; init; }
    [JsonPropertyName("beta_fast")] public double? BetaFast { get; init; }
    [JsonPropertyName("beta_slow")] public double? BetaSlow { get; init; }
    [JsonPropertyName("mscale")] public double? Mscale { get; init; }
    [JsonPropertyName("mscale_all_dim")] public double? MscaleAllDim { get; init; }
    [JsonPropertyName("truncate")] public bool? Truncate { get; init; }
    [JsonExtensionData] public Dictionary<string, JsonElement>? Other { get; init; }

    [JsonIgnore] public string Type => RopeType ?? LegacyType ?? "default";

    /// <summary>Throws naming the field when the scaling is unknown or incomplete.</summary>
    public void Validate(string source)
    {
        void Require(bool ok, string field, string why)
        {
            if (!ok) throw new InvalidDataException($"{source}: field 'rope_scaling.{field}' {why}");
        }
        Require(Types.Contains(Type), RopeType is null && LegacyType is not null ? "type" : "rope_type",
            $"is '{Type}', which is not implemented (implemented: {string.Join(", ", Types)}); it changes every output, so the model is refused rather than run without it");
        if (Type == "default") return;
        Require(Factor is >= 1 && double.IsFinite(Factor.Value), "factor", $"must be a number >= 1 for rope type {Type} (got {Factor?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none"})");
        if (Type == "yarn")
        {
            Require(OriginalMaxPositionEmbeddings is null or > 0, "original_max_position_embeddings", "must be > 0 for rope type yarn");
            Require(AttentionFactor is null or > 0, "attention_factor", "must be > 0 for rope type yarn");
            Require(BetaFast is null or >= 0 && BetaSlow is null or >= 0, BetaFast is < 0 ? "beta_fast" : "beta_slow", "must be >= 0 for rope type yarn");
            return;
        }
        if (Type != "llama3") return;
        Require(LowFreqFactor is > 0, "low_freq_factor", "must be > 0 for rope type llama3");
        Require(HighFreqFactor > LowFreqFactor, "high_freq_factor", "must be greater than low_freq_factor for rope type llama3");
        Require(OriginalMaxPositionEmbeddings is > 0, "original_max_position_embeddings", "must be > 0 for rope type llama3");
    }
}

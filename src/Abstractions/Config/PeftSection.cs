using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Config;

/// <summary>Full fine-tuning (none), LoRA adapters, or LoRA on a 4-bit NF4 base (qlora) (<c>peft.type</c>).</summary>
public enum PeftType { None, Lora, Qlora }

/// <summary>
/// Parameter-efficient fine-tuning (<c>peft:</c>): train LoRA adapters on a frozen base instead of every weight, and
/// under QLoRA hold the base's linear weights in 4-bit NF4. <c>r</c>, <c>alpha</c>, <c>dropout</c> and
/// <c>target_modules</c> are PEFT's LoraConfig r, lora_alpha, lora_dropout and target_modules.
/// Every PEFT stage starts a fresh adapter on the model as it stands: in a GRPO run with <c>stages: [sft, grpo]</c> the
/// warm-up's adapter is merged into the base before GRPO starts, so GRPO's reference (the base with adapters off) is
/// the warmed-up policy; with <c>stages: [grpo]</c> the warm-up trains every weight and GRPO trains adapters on it.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.PeftSection")]
public sealed record PeftSection
{
    public const string SftStage = "sft", GrpoStage = "grpo";

    [Id(0)] public PeftType Type { get; init; } = PeftType.None;
    [Id(1)] public int R { get; init; } = 8;
    [Id(2)] public double Alpha { get; init; } = 16;
    [Id(3)] public double Dropout { get; init; }
    /// <summary>Empty: every linear layer of a block (q, k, v, o, gate, up, down).</summary>
    [Id(4)] public ImmutableArray<string> TargetModules { get; init; } = [];
    /// <summary>QLoRA: the absmax scales stored in 8 bits too.</summary>
    [Id(5)] public bool DoubleQuant { get; init; } = true;
    /// <summary>The stages that train adapters; empty: every stage of the run.</summary>
    [Id(6)] public ImmutableArray<string> Stages { get; init; } = [];

    public bool Enabled => Type != PeftType.None;

    /// <summary>Whether <paramref name="stage"/> ("sft" or "grpo") trains adapters.</summary>
    public bool Covers(string stage) => Enabled && (Stages.IsDefaultOrEmpty || Stages.Contains(stage));
}

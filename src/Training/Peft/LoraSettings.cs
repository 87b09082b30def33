namespace RlhfActors.Training.Peft;

/// <summary>
/// A LoRA adapter's shape (Hu et al. 2021): every targeted linear layer computes W x + (α/r)·B A dropout(x), with
/// A [r, in] and B [out, r]; B starts at zero so the adapted model equals its base at step 0. Under QLoRA
/// (Dettmers et al. 2023) the frozen base's linear weights are stored as 4-bit NF4 and the adapters stay in full
/// precision. Field names follow PEFT's LoraConfig (r, lora_alpha, lora_dropout, target_modules).
/// </summary>
public sealed record LoraSettings
{
    /// <summary>Every linear layer of a Llama / Qwen2 block — PEFT's "all-linear" (lm_head is never adapted).</summary>
    public static readonly IReadOnlyList<string> AllLinear = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

    /// <summary>Rank r of A and B.</summary>
    public int Rank { get; init; } = 8;
    /// <summary>α: the update is scaled by α / r, so changing r does not change the learning rate that works.</summary>
    public double Alpha { get; init; } = 16;
    /// <summary>Dropout on the adapter's input (training only; the base path never sees it).</summary>
    public double Dropout { get; init; }
    /// <summary>Module names (the last part of the parameter path) that get an adapter.</summary>
    public IReadOnlyList<string> TargetModules { get; init; } = AllLinear;
    /// <summary>QLoRA: store the frozen base's targeted linear weights as NF4.</summary>
    public bool QuantizeBase { get; init; }
    /// <summary>QLoRA's double quantisation: the per-block absmax scales themselves stored in 8 bits.</summary>
    public bool DoubleQuant { get; init; } = true;

    public double Scale => Alpha / Rank;

    /// <summary>Value equality (the record's own compares the target list by reference).</summary>
    public bool SameAs(LoraSettings other) =>
        SameAdapterShape(other) && Dropout == other.Dropout && QuantizeBase == other.QuantizeBase && DoubleQuant == other.DoubleQuant;

    /// <summary>Whether an adapter of <paramref name="other"/>'s settings fits these branches and scales the same: r, α
    /// and the targeted modules (all a PEFT adapter folder records of the branches).</summary>
    public bool SameAdapterShape(LoraSettings other) =>
        Rank == other.Rank && Alpha == other.Alpha && TargetModules.SequenceEqual(other.TargetModules);

    /// <summary>What is wrong with these settings, one message per field; empty when they are usable.</summary>
    public IEnumerable<string> Errors()
    {
        if (Rank <= 0) yield return $"r must be > 0 (got {Rank})";
        if (!(Alpha > 0)) yield return $"alpha must be > 0 (got {Alpha})";
        if (Dropout is < 0 or >= 1 || double.IsNaN(Dropout)) yield return $"dropout must be in [0, 1) (got {Dropout})";
        if (TargetModules.Count == 0) yield return "target_modules is empty";
        foreach (var m in TargetModules.Where(m => !AllLinear.Contains(m)))
            yield return $"target_modules: '{m}' is not a linear layer of this decoder (one of {string.Join(", ", AllLinear)})";
    }
}

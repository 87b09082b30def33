using System.Globalization;
using System.Text.Json;
using RlhfActors.Training.IO;
using RlhfActors.Training.Weights;

namespace RlhfActors.Training.Peft;

/// <summary>A LoRA adapter: its settings, the A/B tensors under our parameter names
/// (<c>model.layers.0.self_attn.q_proj.lora_A.weight</c> [r, in], <c>….lora_B.weight</c> [out, r]) and the base
/// model it was trained on (a hub id or a path; null when unknown).</summary>
public sealed record PeftAdapter(LoraSettings Settings, IReadOnlyList<TensorBytes> Tensors, string? BaseModelNameOrPath);

/// <summary>
/// Reads and writes a LoRA adapter in Hugging Face PEFT's on-disk layout — <c>adapter_config.json</c> (a
/// <c>LoraConfig</c>) plus <c>adapter_model.safetensors</c> — so that <c>peft.PeftModel.from_pretrained</c> and
/// vLLM's multi-LoRA serving load what we train, and we load what they save.
/// <para>PEFT's file keys are the parameter names of the wrapped model, <c>base_model.model.</c> + ours, with the
/// adapter name ("default") dropped; some tools keep it (<c>….lora_A.default.weight</c>), which reading accepts.</para>
/// <para>QLoRA: a PEFT adapter_config has no field for how the base is quantised — that belongs to how the base is
/// loaded (bitsandbytes settings on the base model), not to the adapter, whose tensors are full precision either
/// way. So <see cref="LoraSettings.QuantizeBase"/> and <see cref="LoraSettings.DoubleQuant"/> are not written, and
/// <see cref="Read"/> always returns <c>QuantizeBase = false</c> (and DoubleQuant at its default); a caller that
/// trains QLoRA sets them again itself.</para>
/// Only what we can train is accepted: plain LoRA on the linear layers of a Llama / Qwen2 decoder (no DoRA, no
/// rsLoRA, no trained biases, no modules_to_save, no per-module rank or alpha patterns). Pickled adapters
/// (<c>adapter_model.bin</c>) are refused, never unpickled.
/// </summary>
public static class PeftAdapterFolder
{
    public const string ConfigFile = "adapter_config.json";
    public const string WeightsFile = "adapter_model.safetensors";
    public const string PickledWeightsFile = "adapter_model.bin";
    /// <summary>What PEFT puts in front of the base model's parameter names (PeftModel.base_model = LoraModel,
    /// LoraModel.model = the transformers model).</summary>
    public const string KeyPrefix = "base_model.model.";
    /// <summary>PEFT's target_modules shorthand for every linear layer except the output head.</summary>
    public const string AllLinearShorthand = "all-linear";

    const string ASuffix = ".lora_A.weight";
    const string BSuffix = ".lora_B.weight";
    const string DefaultASuffix = ".lora_A.default.weight";
    const string DefaultBSuffix = ".lora_B.default.weight";

    /// <summary>Our parameter name → PEFT's file key.</summary>
    public static string ToPeftKey(string name) => KeyPrefix + name;

    /// <summary>PEFT's file key → our parameter name, or null when the key does not start with
    /// <see cref="KeyPrefix"/>. A kept adapter name (<c>.lora_A.default.weight</c>) is dropped.</summary>
    public static string? FromPeftKey(string key)
    {
        if (!key.StartsWith(KeyPrefix, StringComparison.Ordinal)) return null;
        var name = key[KeyPrefix.Length..];
        if (name.EndsWith(DefaultASuffix, StringComparison.Ordinal)) return name[..^DefaultASuffix.Length] + ASuffix;
        if (name.EndsWith(DefaultBSuffix, StringComparison.Ordinal)) return name[..^DefaultBSuffix.Length] + BSuffix;
        return name;
    }

    // ------------------------------------------------------------------------------------------------- writing

    /// <summary>Writes <c>adapter_model.safetensors</c> and then <c>adapter_config.json</c> into
    /// <paramref name="folder"/> (created if needed), each atomically. Everything is validated first, so an invalid
    /// adapter throws <see cref="ArgumentException"/> (naming the tensor) before any file or folder is created.</summary>
    public static void Write(string folder, PeftAdapter adapter)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        ArgumentNullException.ThrowIfNull(adapter);
        ArgumentNullException.ThrowIfNull(adapter.Settings, nameof(adapter));
        ArgumentNullException.ThrowIfNull(adapter.Tensors, nameof(adapter));
        var settingsErrors = adapter.Settings.Errors().ToArray();
        if (settingsErrors.Length > 0)
            throw new ArgumentException($"LoRA settings are not usable: {string.Join("; ", settingsErrors)}", nameof(adapter));
        foreach (var t in adapter.Tensors) ArgumentNullException.ThrowIfNull(t, nameof(adapter));
        var problem = FindProblem(adapter.Tensors.Select(t => (t, t.Name)).ToList(), adapter.Settings, "target_modules");
        if (problem is not null) throw new ArgumentException(problem, nameof(adapter));

        var config = EncodeConfig(adapter.Settings, adapter.BaseModelNameOrPath);
        var weights = adapter.Tensors.Select(t => t with { Name = ToPeftKey(t.Name) }).ToList();

        Directory.CreateDirectory(folder);
        // Weights first, config last: a folder whose config is there always has its weights.
        SafeTensorsFile.Write(Path.Combine(folder, WeightsFile), weights, new Dictionary<string, string> { ["format"] = "pt" });
        AtomicFile.Write(Path.Combine(folder, ConfigFile), stream => stream.Write(config));
    }

    static byte[] EncodeConfig(LoraSettings settings, string? baseModel)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("peft_type", "LORA");
            json.WriteString("task_type", "CAUSAL_LM");
            json.WriteNumber("r", settings.Rank);
            // LoraConfig.lora_alpha is an int; a whole α is written as one so strict readers are happy.
            if (settings.Alpha == Math.Floor(settings.Alpha) && Math.Abs(settings.Alpha) <= int.MaxValue)
                json.WriteNumber("lora_alpha", (long)settings.Alpha);
            else
                json.WriteNumber("lora_alpha", settings.Alpha);
            json.WritePropertyName("lora_dropout");
            // Always with a decimal point (0.0, not 0): it is a float field in LoraConfig.
            json.WriteRawValue(FormatFloat(settings.Dropout));
            json.WriteStartArray("target_modules");
            foreach (var m in settings.TargetModules) json.WriteStringValue(m);
            json.WriteEndArray();
            json.WriteString("bias", "none");
            if (baseModel is null) json.WriteNull("base_model_name_or_path");
            else json.WriteString("base_model_name_or_path", baseModel);
            json.WriteBoolean("fan_in_fan_out", false);
            json.WriteBoolean("inference_mode", true);
            json.WriteBoolean("init_lora_weights", true);
            json.WriteNull("modules_to_save");
            json.WriteBoolean("use_rslora", false);
            json.WriteBoolean("use_dora", false);
            json.WriteNull("layers_to_transform");
            json.WriteNull("revision");
            json.WriteStartObject("rank_pattern");
            json.WriteEndObject();
            json.WriteStartObject("alpha_pattern");
            json.WriteEndObject();
            json.WriteEndObject();
        }
        buffer.WriteByte((byte)'\n');
        return buffer.ToArray();
    }

    static string FormatFloat(double value)
    {
        var s = value.ToString("R", CultureInfo.InvariantCulture);
        return s.Contains('.') || s.Contains('E') || s.Contains('e') ? s : s + ".0";
    }

    // ------------------------------------------------------------------------------------------------- reading

    /// <summary>Loads a PEFT LoRA adapter folder, renaming file keys to our parameter names. Anything this project
    /// cannot train or serve throws <see cref="InvalidDataException"/> naming the file and the field or key.</summary>
    public static PeftAdapter Read(string folder)
    {
        ArgumentException.ThrowIfNullOrEmpty(folder);
        if (!Directory.Exists(folder))
            throw new InvalidDataException($"adapter folder {folder} does not exist");
        var configPath = Path.Combine(folder, ConfigFile);
        if (!File.Exists(configPath))
            throw new InvalidDataException($"adapter folder {folder} has no {ConfigFile}; not a PEFT adapter folder");
        var weightsPath = Path.Combine(folder, WeightsFile);
        if (!File.Exists(weightsPath))
        {
            if (File.Exists(Path.Combine(folder, PickledWeightsFile)))
                throw new InvalidDataException(
                    $"adapter folder {folder} has no {WeightsFile}, only {PickledWeightsFile}: pickle adapters are not supported, convert to safetensors " +
                    "(unpickling can run arbitrary code; e.g. in Python: " +
                    "PeftModel.from_pretrained(base, folder).save_pretrained(out, safe_serialization=True))");
            throw new InvalidDataException($"adapter folder {folder} has no {WeightsFile}");
        }

        var (settings, baseModel) = ReadConfig(configPath);
        var tensors = ReadWeights(weightsPath, settings);
        return new PeftAdapter(settings, tensors, baseModel);
    }

    static (LoraSettings Settings, string? BaseModel) ReadConfig(string path)
    {
        JsonDocument doc;
        try { doc = JsonDocument.Parse(File.ReadAllBytes(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON: {e.Message}", e); }
        using (doc)
        {
            var root = doc.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: is a JSON {root.ValueKind}, expected an object");
            string Field(string name) => $"{path}: field '{name}'";
            bool Has(string name, out JsonElement value) =>
                root.TryGetProperty(name, out value) && value.ValueKind != JsonValueKind.Null;

            if (!Has("peft_type", out var peftType) || peftType.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{Field("peft_type")} is missing or not a string; expected \"LORA\"");
            if (!string.Equals(peftType.GetString(), "LORA", StringComparison.Ordinal))
                throw new InvalidDataException($"{Field("peft_type")} is \"{peftType.GetString()}\"; only LORA adapters are supported");

            if (!Has("r", out var rElement))
                throw new InvalidDataException($"{Field("r")} is missing");
            if (rElement.ValueKind != JsonValueKind.Number || !rElement.TryGetInt32(out var rank) || rank <= 0)
                throw new InvalidDataException($"{Field("r")} is {rElement.GetRawText()}; expected a positive integer");

            if (!Has("lora_alpha", out var alphaElement))
                throw new InvalidDataException($"{Field("lora_alpha")} is missing");
            if (alphaElement.ValueKind != JsonValueKind.Number || !alphaElement.TryGetDouble(out var alpha)
                || !double.IsFinite(alpha) || alpha <= 0)
                throw new InvalidDataException($"{Field("lora_alpha")} is {alphaElement.GetRawText()}; expected a positive number");

            double dropout = 0;
            if (Has("lora_dropout", out var dropoutElement)
                && (dropoutElement.ValueKind != JsonValueKind.Number || !dropoutElement.TryGetDouble(out dropout)
                    || !(dropout >= 0 && dropout < 1)))
                throw new InvalidDataException($"{Field("lora_dropout")} is {dropoutElement.GetRawText()}; expected a number in [0, 1)");

            RejectTrue(root, "use_dora", path, "DoRA (weight-decomposed LoRA) adapters are not supported");
            RejectTrue(root, "use_rslora", path, "rsLoRA (scaling α/√r instead of α/r) is not supported");
            RejectTrue(root, "fan_in_fan_out", path, "transposed (Conv1D-style) LoRA weights are not supported");

            if (Has("bias", out var bias) && !(bias.ValueKind == JsonValueKind.String && bias.GetString() == "none"))
                throw new InvalidDataException($"{Field("bias")} is {bias.GetRawText()}; only \"none\" is supported (trained biases are not)");

            if (Has("modules_to_save", out var toSave)
                && !(toSave.ValueKind == JsonValueKind.Array && toSave.GetArrayLength() == 0))
                throw new InvalidDataException($"{Field("modules_to_save")} is {toSave.GetRawText()}; fully trained extra modules are not supported, only LoRA A/B weights");

            foreach (var pattern in new[] { "rank_pattern", "alpha_pattern" })
                if (Has(pattern, out var p) && !(p.ValueKind == JsonValueKind.Object && !p.EnumerateObject().Any()))
                    throw new InvalidDataException($"{Field(pattern)} is {p.GetRawText()}; per-module ranks or alphas are not supported, only one r and lora_alpha");

            var targets = ReadTargetModules(root, path);

            string? baseModel = null;
            if (Has("base_model_name_or_path", out var baseElement))
                baseModel = baseElement.ValueKind == JsonValueKind.String
                    ? baseElement.GetString()
                    : throw new InvalidDataException($"{Field("base_model_name_or_path")} is {baseElement.GetRawText()}; expected a string or null");

            // QuantizeBase stays false: PEFT's config has no field for it (see the class comment).
            var settings = new LoraSettings { Rank = rank, Alpha = alpha, Dropout = dropout, TargetModules = targets, QuantizeBase = false };
            var errors = settings.Errors().ToArray();
            if (errors.Length > 0)
                throw new InvalidDataException($"{path}: {string.Join("; ", errors)}");
            return (settings, baseModel);
        }
    }

    static void RejectTrue(JsonElement root, string field, string path, string why)
    {
        if (root.TryGetProperty(field, out var value) && value.ValueKind == JsonValueKind.True)
            throw new InvalidDataException($"{path}: field '{field}' is true; {why}");
    }

    static IReadOnlyList<string> ReadTargetModules(JsonElement root, string path)
    {
        var where = $"{path}: field 'target_modules'";
        if (!root.TryGetProperty("target_modules", out var element) || element.ValueKind == JsonValueKind.Null)
            throw new InvalidDataException($"{where} is missing; expected a list of module names such as [\"q_proj\", \"v_proj\"]");
        if (element.ValueKind == JsonValueKind.String)
        {
            var s = element.GetString()!;
            if (string.Equals(s, AllLinearShorthand, StringComparison.OrdinalIgnoreCase)) return LoraSettings.AllLinear;
            throw new InvalidDataException($"{where} is the string \"{s}\"; a regular expression is not supported, only a list of module names or \"{AllLinearShorthand}\"");
        }
        if (element.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{where} is a JSON {element.ValueKind}; expected a list of module names or \"{AllLinearShorthand}\"");
        var modules = new List<string>();
        foreach (var item in element.EnumerateArray())
        {
            if (item.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{where} holds {item.GetRawText()}; expected module name strings");
            var m = item.GetString()!;
            if (!modules.Contains(m)) modules.Add(m);
        }
        return modules;
    }

    static IReadOnlyList<TensorBytes> ReadWeights(string path, LoraSettings settings)
    {
        var content = SafeTensorsFile.Read(path);
        var renamed = new List<(TensorBytes Tensor, string Display)>(content.Tensors.Count);
        var seen = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var t in content.Tensors)
        {
            var name = FromPeftKey(t.Name)
                ?? throw new InvalidDataException($"{path}: key '{t.Name}' does not start with '{KeyPrefix}'; not a PEFT adapter key");
            if (!IsLoraWeight(name))
                throw new InvalidDataException($"{path}: key '{t.Name}' is not a LoRA lora_A / lora_B weight; only plain LoRA on linear layers is supported (no embedding LoRA, DoRA magnitudes, biases or extra modules)");
            if (seen.TryGetValue(name, out var other))
                throw new InvalidDataException($"{path}: keys '{other}' and '{t.Name}' are the same parameter");
            seen[name] = t.Name;
            renamed.Add((t with { Name = name }, t.Name));
        }
        var problem = FindProblem(renamed, settings, $"target_modules of {ConfigFile}");
        if (problem is not null) throw new InvalidDataException($"{path}: {problem}");
        return renamed.Select(r => r.Tensor).ToArray();
    }

    // ---------------------------------------------------------------------------------------------- validation

    static bool IsLoraWeight(string name) =>
        name.EndsWith(ASuffix, StringComparison.Ordinal) || name.EndsWith(BSuffix, StringComparison.Ordinal);

    /// <summary>The first thing wrong with these tensors (our names; <c>Display</c> is how to name each in a message),
    /// or null: every name a lora_A / lora_B weight of a targeted module, A and B paired, A [r, in], B [out, r].</summary>
    static string? FindProblem(List<(TensorBytes Tensor, string Display)> tensors, LoraSettings settings, string targetsName)
    {
        if (tensors.Count == 0) return "the adapter has no tensors";
        var byName = new Dictionary<string, (TensorBytes Tensor, string Display)>(StringComparer.Ordinal);
        foreach (var entry in tensors)
        {
            var (t, display) = entry;
            if (!byName.TryAdd(t.Name, entry)) return $"tensor '{display}' appears twice";
            var isA = t.Name.EndsWith(ASuffix, StringComparison.Ordinal);
            if (!isA && !t.Name.EndsWith(BSuffix, StringComparison.Ordinal))
                return $"tensor '{display}' is not a LoRA weight: its name must end in '{ASuffix}' or '{BSuffix}'";
            var modulePath = t.Name[..^ASuffix.Length];
            var module = modulePath[(modulePath.LastIndexOf('.') + 1)..];
            if (!settings.TargetModules.Contains(module, StringComparer.Ordinal))
                return $"tensor '{display}' adapts module '{module}', which is not in {targetsName} ({string.Join(", ", settings.TargetModules)})";
            if (t.Shape.Length != 2)
                return $"tensor '{display}' has shape [{string.Join(", ", t.Shape)}]; LoRA weights are 2-D";
            if (isA && t.Shape[0] != settings.Rank)
                return $"tensor '{display}' has shape [{string.Join(", ", t.Shape)}] but lora_A must be [r, in] with r = {settings.Rank}";
            if (!isA && t.Shape[1] != settings.Rank)
                return $"tensor '{display}' has shape [{string.Join(", ", t.Shape)}] but lora_B must be [out, r] with r = {settings.Rank}";
        }
        foreach (var (t, display) in tensors)
        {
            var isA = t.Name.EndsWith(ASuffix, StringComparison.Ordinal);
            var partner = t.Name[..^ASuffix.Length] + (isA ? BSuffix : ASuffix);
            if (!byName.ContainsKey(partner))
                return $"tensor '{display}' has no matching {(isA ? "lora_B" : "lora_A")} ('{partner}' is missing)";
        }
        return null;
    }
}

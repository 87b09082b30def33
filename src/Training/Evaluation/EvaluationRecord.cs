using System.Text.Json;
using System.Text.Json.Serialization;
using RlhfActors.Training.IO;

namespace RlhfActors.Training.Evaluation;

/// <summary>
/// What one evaluation measured, and of what: the scores, the model and examples by digest, the sampling settings, the
/// code version and the time, as JSON (<c>"format": "rlhf-actors-eval/1"</c>, snake_case keys). <c>rlhf eval</c> and
/// the evaluations inside a run write it; <c>rlhf trace</c> reads it back and checks every digest against what the
/// paths hold now.
/// </summary>
/// <remarks>
/// The model of an evaluation inside a run is a published policy version, not a folder: its weights exist only in
/// memory when they are scored, and the checkpoint of that step (if any) is written just after the evaluation. So such
/// a record names the run folder, the step and the policy version, the published weights' SHA-256
/// (<c>PayloadDigest</c>, the digest the samplers check the weights by), and the folder a checkpoint of that step is
/// written to. <c>rlhf trace</c> links the two by the checkpoint's recorded policy version and step, and from there
/// checks files by digest as for any checkpoint. A step without a checkpoint (not on <c>checkpoint.every</c>, or
/// pruned by <c>checkpoint.keep</c>) ends the lineage there, visibly.
/// </remarks>
public sealed record EvaluationRecord
{
    public const string FormatName = "rlhf-actors-eval/1";

    public string Format { get; init; } = FormatName;
    public DateTimeOffset CreatedUtc { get; init; }
    public EvalModel Model { get; init; } = new();
    public EvalData Data { get; init; } = new();
    public EvalSampling Sampling { get; init; } = new();
    public EvalScores Scores { get; init; } = new();
    public EvalCode Code { get; init; } = new();
    /// <summary>Wall-clock seconds of the scoring (generation and checks), not of loading or hashing.</summary>
    public double Seconds { get; init; }

    static readonly JsonSerializerOptions Options = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull,
        WriteIndented = true,
        // A record is read by people too: "1.0.0+0a9d…" rather than "1.0.0\u002B0a9d…".
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Options);

    /// <summary>Writes the record to <paramref name="path"/> atomically (never half-written), creating its folder.</summary>
    public void Write(string path)
    {
        if (Path.GetDirectoryName(Path.GetFullPath(path)) is { Length: > 0 } folder) Directory.CreateDirectory(folder);
        AtomicFile.WriteAllText(path, ToJson() + "\n");
    }

    /// <summary>Reads a record; anything that is not one (not JSON, another format, a missing section) is an
    /// <see cref="InvalidDataException"/> naming the file and what is wrong.</summary>
    public static EvaluationRecord Read(string path)
    {
        EvaluationRecord? record;
        try
        {
            // The format is checked on the text: a missing "format" would otherwise take the default.
            var text = File.ReadAllText(path);
            var format = System.Text.Json.Nodes.JsonNode.Parse(text) is System.Text.Json.Nodes.JsonObject o && o["format"] is System.Text.Json.Nodes.JsonValue v
                && v.TryGetValue<string>(out var f) ? f : null;
            if (format != FormatName)
                throw new InvalidDataException($"{path}: not an evaluation record (format is {(format is null ? "missing" : $"'{format}'")}, expected '{FormatName}')");
            record = JsonSerializer.Deserialize<EvaluationRecord>(text, Options);
        }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not an evaluation record ({e.Message})", e); }
        if (record is null) throw new InvalidDataException($"{path}: not an evaluation record (null)");
        if (string.IsNullOrEmpty(record.Model.Kind) || string.IsNullOrEmpty(record.Model.Digest))
            throw new InvalidDataException($"{path}: not a complete evaluation record (model.kind and model.digest are required)");
        if (string.IsNullOrEmpty(record.Data.Digest) || (record.Data.Task is null == record.Data.EvalFile is null))
            throw new InvalidDataException($"{path}: not a complete evaluation record (data needs a digest and exactly one of task and eval_file)");
        return record;
    }
}

/// <summary>The model scored. <see cref="Kind"/>: <c>checkpoint</c> (one of ours, manifest verified), <c>hf_folder</c>,
/// <c>peft_adapter</c> (its own files; the base it names is not hashed here), or <c>policy_version</c> (inside a run,
/// see <see cref="EvaluationRecord"/>).</summary>
public sealed record EvalModel
{
    public const string CheckpointKind = "checkpoint";
    public const string HfFolderKind = "hf_folder";
    public const string PeftAdapterKind = "peft_adapter";
    public const string PolicyVersionKind = "policy_version";

    /// <summary>The folder (absolute); for a policy version, the run's output folder.</summary>
    public string Path { get; init; } = "";
    public string Kind { get; init; } = "";
    /// <summary>A folder: <see cref="Checkpoints.ModelFolderDigest.Combined"/> of <see cref="Files"/>. A policy
    /// version: the published weights' SHA-256.</summary>
    public string Digest { get; init; } = "";
    /// <summary>File name → SHA-256 (a checkpoint's: its manifest's, verified); null for a policy version.</summary>
    public SortedDictionary<string, string>? Files { get; init; }
    /// <summary>The training step of a checkpoint or policy version.</summary>
    public int? Step { get; init; }
    public long? PolicyVersion { get; init; }
    /// <summary>A policy version: the folder a checkpoint of its step is (or would be) written to.</summary>
    public string? Checkpoint { get; init; }
}

/// <summary>The examples scored: a built-in task's held-out set (regenerated from task, parameters, seed and count, as
/// a run draws it) or a JSONL file. <see cref="Digest"/>: the file's SHA-256, or for a task
/// <see cref="Data.ExperimentData.ExamplesSha256"/> of the examples generated.</summary>
public sealed record EvalData
{
    public string? Task { get; init; }
    public SortedDictionary<string, int>? TaskParameters { get; init; }
    public int? Seed { get; init; }
    public string? EvalFile { get; init; }
    public int Examples { get; init; }
    public string Digest { get; init; } = "";
}

/// <summary>How completions were generated. Evaluation is greedy (the most likely token), so no temperature or seed
/// applies; the task's seed, which picks the examples, is <see cref="EvalData.Seed"/>.</summary>
public sealed record EvalSampling
{
    public bool Greedy { get; init; } = true;
    public int MaxNewTokens { get; init; }
    public double? Temperature { get; init; }
    public long? Seed { get; init; }
}

public sealed record EvalScores
{
    public double Accuracy { get; init; }
    public int Correct { get; init; }
    public int Examples { get; init; }
}

public sealed record EvalCode
{
    /// <summary><see cref="CodeVersions.Code"/>: the version with the git commit it was built from.</summary>
    public string Version { get; init; } = "";
    [JsonPropertyName("torchsharp")]
    public string TorchSharp { get; init; } = "";
}

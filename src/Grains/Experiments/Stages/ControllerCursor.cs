using System.Collections.Immutable;
using System.Text.Json;
using System.Text.Json.Serialization;
using RlhfActors.Abstractions.Experiments;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// Where the controller stands in its plan: the stage, whether it has started, the stage's own state (its JSON,
/// from <see cref="ExperimentStage.SaveState"/>) and the summaries of the stages before it. It is written into every
/// checkpoint (<c>controller_state.json</c>, hashed in the manifest like the weights), so that a checkpoint alone is
/// enough to continue a run exactly, even after the cluster and its Redis were lost.
/// </summary>
public sealed record ControllerCursor
{
    public int StageIndex { get; init; }
    public bool StageStarted { get; init; }
    public string StageState { get; init; } = "";
    /// <summary>The policy step the running stage started at (its summary counts the steps since).</summary>
    public int StageStartStep { get; init; }
    public ImmutableArray<StageSummary> Stages { get; init; } = [];
    /// <summary>The length of <c>metrics.jsonl</c> when the checkpoint was written: a resume from it cuts the file
    /// back to this, so no step is logged twice.</summary>
    public long MetricsBytes { get; init; }
    /// <summary>The rollout trace file being written and its length when the checkpoint was written: a resume from it
    /// deletes the later files and cuts this one back, so no batch is traced twice.</summary>
    public int TraceFile { get; init; }
    public long TraceBytes { get; init; }

    /// <summary>NaN figures (a stage's loss before its first step) are kept as JSON's named literals.</summary>
    internal static readonly JsonSerializerOptions Json = new()
    {
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The cursor of a checkpoint; the one of an SFT checkpoint written without one (by a shutting-down
    /// learner of an older version) is the SFT stage, started: SFT state lives in the learner alone.</summary>
    public static ControllerCursor Parse(string json, string checkpoint)
    {
        if (string.IsNullOrWhiteSpace(json)) return new ControllerCursor { StageStarted = true };
        try
        {
            return JsonSerializer.Deserialize<ControllerCursor>(json, Json)
                   ?? throw new InvalidDataException($"{checkpoint}: controller_state.json is empty");
        }
        catch (JsonException e)
        {
            throw new InvalidDataException($"{checkpoint}: controller_state.json is not a controller cursor: {e.Message}", e);
        }
    }

    /// <summary>A stage's own state as JSON (same options as the cursor).</summary>
    public static string Serialize<T>(T state) => JsonSerializer.Serialize(state, Json);

    public static T Deserialize<T>(string json, string stage) =>
        JsonSerializer.Deserialize<T>(json, Json) ?? throw new InvalidDataException($"the {stage} stage's saved state is empty");
}

using System.Text.Json;
using System.Text.Json.Nodes;

namespace RlhfActors.Training.Checkpoints;

/// <summary>What a stage knows of its own progress for transformers' fields: the steps it will run and its batch
/// size and the epochs its data has gone through (null where the stage has no such number).</summary>
public sealed record TrainerProgress(int? MaxSteps = null, int? TrainBatchSize = null, double? Epoch = null);

/// <summary>
/// trainer_state.json in transformers' shape (<c>TrainerState</c>: global_step, max_steps, epoch, log_history, …),
/// so tools that read a Trainer checkpoint find what they expect, with this project's own resume state (stage, seed,
/// data cursor, optimizer steps, policy version: each learner's record) under <c>"rlhf"</c>. One home for the file's
/// shape: learners hand their record to <see cref="Compose"/> and get it back from <see cref="ProjectState"/>.
/// <c>log_history</c> is written empty: per-step figures are not kept by the learners yet.
/// </summary>
public static class TrainerStateFile
{
    public const string ProjectKey = "rlhf";

    public static string Compose(string projectStateJson, int globalStep, TrainerProgress? progress = null)
    {
        ArgumentNullException.ThrowIfNull(projectStateJson);
        JsonNode? project;
        try { project = JsonNode.Parse(projectStateJson); }
        catch (JsonException e) { throw new ArgumentException($"trainerStateJson is not valid JSON: {e.Message}", nameof(projectStateJson), e); }
        var file = new JsonObject
        {
            ["best_global_step"] = null,
            ["best_metric"] = null,
            ["best_model_checkpoint"] = null,
            ["epoch"] = progress?.Epoch ?? 0.0,
            ["eval_steps"] = null,
            ["global_step"] = globalStep,
            ["is_hyper_param_search"] = false,
            ["is_local_process_zero"] = true,
            ["is_world_process_zero"] = true,
            ["log_history"] = new JsonArray(),
            ["logging_steps"] = null,
            ["max_steps"] = progress?.MaxSteps ?? 0,   // transformers' value when unknown
            ["num_input_tokens_seen"] = 0,
            // transformers: ceil(max_steps / steps per epoch), the epochs the whole run will have gone through.
            ["num_train_epochs"] = progress is { MaxSteps: int max, Epoch: double epoch } && globalStep > 0 ? Math.Max(1, (int)Math.Ceiling(epoch * max / globalStep)) : 1,
            ["save_steps"] = null,
            ["stateful_callbacks"] = new JsonObject(),
            ["total_flos"] = 0.0,
            ["train_batch_size"] = progress?.TrainBatchSize,
            ["trial_name"] = null,
            ["trial_params"] = null,
            [ProjectKey] = project,
        };
        return file.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
    }

    /// <summary>The learner's record inside <paramref name="fileText"/>; a file written before this shape (the record
    /// at the top level) is returned whole, so older checkpoints still resume.</summary>
    public static string ProjectState(string fileText)
    {
        try
        {
            return JsonNode.Parse(fileText) is JsonObject root && root.TryGetPropertyValue(ProjectKey, out var project) && project is not null
                ? project.ToJsonString()
                : fileText;
        }
        catch (JsonException) { return fileText; }
    }
}

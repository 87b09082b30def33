using System.Globalization;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.IO;

namespace RlhfActors.Training.Evaluation;

/// <summary>One link of an evaluation's chain, checked now: <see cref="State"/> is <c>unchanged</c>, <c>changed</c>
/// (<see cref="Changed"/> names what), <c>missing</c>, <c>corrupt</c> (a checkpoint that no longer matches its own
/// manifest), or <c>not checkpointed</c> (a run's policy version whose step has no checkpoint: the chain ends there,
/// nothing in it changed).</summary>
public sealed record TraceLink(string? Path, string State, IReadOnlyList<string> Changed)
{
    public bool Holds => State is "unchanged" or "not checkpointed";
}

/// <summary>
/// An evaluation record traced back: its model's digest against the folder it names (by the run checkpoint of its step
/// for a policy version), its examples' digest against the eval file (or the task's examples regenerated), and then the
/// checkpoint's lineage (<see cref="CheckpointLineage"/>: run config, datasets, initial model, earlier runs).
/// </summary>
public sealed record EvaluationTrace(EvaluationRecord Record, TraceLink Model, TraceLink Data, CheckpointLineage? Lineage, string? LineageError)
{
    /// <summary>True when every digest along the chain is as recorded.</summary>
    public bool Intact => Model.Holds && Data.Holds && LineageError is null && (Lineage?.Intact ?? true);

    public static EvaluationTrace Of(EvaluationRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        var (model, checkpoint) = CheckModel(record.Model);
        var data = CheckData(record.Data);
        CheckpointLineage? lineage = null;
        string? error = null;
        if (checkpoint is not null)
        {
            // A checkpoint with a changed file fails its manifest here, with the file and both hashes.
            try { lineage = CheckpointLineage.Trace(checkpoint); }
            catch (Exception e) when (e is InvalidDataException or IOException) { error = e.Message; }
        }
        return new EvaluationTrace(record, model, data, lineage, error);
    }

    /// <summary>The model link, and the checkpoint whose lineage continues the chain (null: none).</summary>
    static (TraceLink Link, string? Checkpoint) CheckModel(EvalModel model)
    {
        if (model.Kind == EvalModel.PolicyVersionKind) return CheckPolicyVersion(model);
        if (!Directory.Exists(model.Path)) return (new TraceLink(model.Path, "missing", []), null);
        var recorded = model.Files ?? new SortedDictionary<string, string>(StringComparer.Ordinal);
        // A record whose file list no longer combines to its digest was itself edited.
        if (ModelFolderDigest.Combined(recorded) != model.Digest)
            return (new TraceLink(model.Path, "changed", ["the record's model.files do not combine to its model.digest"]), null);
        var isCheckpoint = model.Kind == EvalModel.CheckpointKind;
        // A checkpoint's files are its manifest's (anything else in the folder is never read); a plain folder's are all
        // it holds, as ModelFolderDigest hashes them.
        var now = isCheckpoint
            ? recorded.Keys.Where(name => File.Exists(System.IO.Path.Combine(model.Path, name)))
                .ToDictionary(name => name, name => Hashing.Sha256Hex(System.IO.Path.Combine(model.Path, name)))
            : new Dictionary<string, string>(ModelFolderDigest.Compute(model.Path));
        var changed = recorded.Where(f => now.GetValueOrDefault(f.Key) != f.Value).Select(f => f.Key)
            .Concat(now.Keys.Where(k => !recorded.ContainsKey(k))).Order(StringComparer.Ordinal).ToArray();
        var link = new TraceLink(model.Path, changed.Length == 0 ? "unchanged" : "changed", changed);
        return (link, isCheckpoint ? model.Path : null);
    }

    /// <summary>A run's policy version: its link is the checkpoint of its step, which must record the same version.</summary>
    static (TraceLink Link, string? Checkpoint) CheckPolicyVersion(EvalModel model)
    {
        var checkpoint = model.Checkpoint;
        if (checkpoint is null || !Directory.Exists(checkpoint)) return (new TraceLink(checkpoint, "not checkpointed", []), null);
        CheckpointManifest manifest;
        try { manifest = CheckpointReader.Verify(checkpoint); }
        catch (InvalidDataException e) { return (new TraceLink(checkpoint, "corrupt", [e.Message]), null); }
        var recordedVersion = manifest.Provenance.GetValueOrDefault("policy_version");
        var changed = new List<string>();
        if (recordedVersion != model.PolicyVersion?.ToString(CultureInfo.InvariantCulture))
            changed.Add($"policy_version (the checkpoint records {(string.IsNullOrEmpty(recordedVersion) ? "none" : recordedVersion)}, the evaluation {model.PolicyVersion})");
        if (manifest.Step != model.Step) changed.Add($"step (the checkpoint is step {manifest.Step}, the evaluation {model.Step})");
        return (new TraceLink(checkpoint, changed.Count == 0 ? "unchanged" : "changed", changed), checkpoint);
    }

    static TraceLink CheckData(EvalData data)
    {
        if (data.EvalFile is { } file)
        {
            if (!File.Exists(file)) return new TraceLink(file, "missing", []);
            return Hashing.Sha256Hex(file) == data.Digest
                ? new TraceLink(file, "unchanged", [])
                : new TraceLink(file, "changed", [System.IO.Path.GetFileName(file)]);
        }
        // A task has no file: its examples are drawn again and hashed, which also shows when this code draws them
        // differently from the code that was evaluated.
        try
        {
            var again = EvalExamples.FromTask(data.Task!, data.TaskParameters ?? new SortedDictionary<string, int>(), data.Seed ?? 1, data.Examples);
            return again.Data.Digest == data.Digest
                ? new TraceLink(null, "unchanged", [])
                : new TraceLink(null, "changed", [$"task '{data.Task}' examples (regenerated digest {again.Data.Digest})"]);
        }
        catch (Exception e) when (e is ArgumentException or InvalidOperationException)
        {
            return new TraceLink(null, "changed", [$"task '{data.Task}' cannot be regenerated: {e.Message}"]);
        }
    }
}

using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Training.Metrics;
using RlhfActors.Training.Rollouts.Traces;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// The run's rollout traces as the controller writes them (<c>trace_rollouts</c>; docs/rollout-traces.md): a stage
/// hands over each batch it trained on with its rewards and reference log-probs (<see cref="Write"/>), and the batch
/// is appended at once as one msgpack record. The trace position is kept in the record and the checkpoint's cursor
/// like metrics.jsonl's length, and a resume cuts the files back to it (<see cref="Restore"/>). A failed write is
/// logged and never fails the run: traces are a diagnostic.
/// </summary>
public sealed class RunTraces(RunContext run)
{
    const double Mib = 1024 * 1024;

    RolloutTraceWriter? _writer;
    readonly RowNotes<int> _shards = new();
    readonly RowNotes<(ImmutableSortedDictionary<string, ImmutableArray<double>> Components, int Row)> _components = new();

    bool On => run.Config.Logging.TraceRollouts > 0;

    /// <summary>The shards <see cref="RunContext.SampleAsync"/> merged: each row's sampler is its shard's index.</summary>
    public void NoteShards(IReadOnlyList<RolloutBatchMessage> parts)
    {
        if (!On) return;
        for (int i = 0; i < parts.Count; i++)
        {
            int shard = i;
            _shards.Note(parts[i], _ => shard);
        }
    }

    /// <summary>The reward grain's per-term scores of <paramref name="scored"/>.</summary>
    public void NoteComponents(RolloutBatchMessage scored, ImmutableSortedDictionary<string, ImmutableArray<double>> components)
    {
        if (On && components.Count > 0) _components.Note(scored, row => (components, row));
    }

    /// <summary>Traces <paramref name="rollouts"/> as step <paramref name="step"/>'s batch when trace_rollouts covers
    /// the step. <paramref name="rewards"/> and <paramref name="reference"/> may be default (none).</summary>
    public void Write(string stage, int step, RolloutBatchMessage rollouts, ImmutableArray<double> rewards, ImmutableArray<float[]> reference)
    {
        var config = run.Config;
        if (rollouts.Count == 0 || !TraceSampling.Covers(config.Logging.TraceRollouts, config.Seed, step)) return;
        var record = new RolloutTraceRecord
        {
            Step = step,
            Stage = stage,
            PolicyVersion = rollouts.PolicyVersion,
            GroupSize = rollouts.GroupSize,
            Time = DateTimeOffset.UtcNow.ToString("O"),
            Rows = [.. Enumerable.Range(0, rollouts.Count).Select(r => Row(rollouts, r, rewards, reference))],
        };
        try
        {
            var writer = _writer ??= Open();
            var outcome = writer.Append(record);
            (run.Record.TraceFile, run.Record.TraceBytes) = (writer.Position.File, writer.Position.Bytes);
            if (outcome == TraceAppend.CapReached)
            {
                run.Logger.TraceCapReached(run.ExperimentId, config.Logging.TraceMaxMb, writer.TotalBytes, writer.Position.File, step);
                run.SetStatus(s => s with { TraceCapReached = true });
                run.Metrics.At(step, new Dictionary<string, double> { [MetricNames.TraceBytes] = writer.TotalBytes, [MetricNames.TraceCapReached] = 1 });
            }
            else if (outcome == TraceAppend.Written && step % config.Logging.LoggingSteps == 0)
                run.Metrics.At(step, new Dictionary<string, double> { [MetricNames.TraceBytes] = writer.TotalBytes });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // The writer cuts a partial record back on its next append.
            run.Logger.TraceUnwritten(run.ExperimentId, step, e.Message);
        }
    }

    /// <summary>A new run (position none: earlier trace files are deleted) or one continuing from its record or a
    /// checkpoint (the files after its position are deleted and its file cut back).</summary>
    public void Restore()
    {
        _shards.Clear();
        _components.Clear();
        _writer = null;
        _writer = Open();
        run.SetStatus(s => s with { TraceCapReached = false });
    }

    RolloutTraceWriter Open()
    {
        var config = run.Config;
        return RolloutTraceWriter.Open(TraceFiles.FolderIn(config.OutputDir), (long)(config.Logging.TraceFileMb * Mib),
            (long)(config.Logging.TraceMaxMb * Mib), new TracePosition(run.Record.TraceFile, run.Record.TraceBytes));
    }

    RolloutTraceRow Row(RolloutBatchMessage rollouts, int r, ImmutableArray<double> rewards, ImmutableArray<float[]> reference) => new()
    {
        Sampler = _shards.TryGet(rollouts, r, out var shard) ? shard : -1,
        Prompt = rollouts.Prompts[r],
        Completion = rollouts.CompletionTexts[r],
        PromptIds = rollouts.PromptIds[r],
        CompletionIds = rollouts.CompletionIds[r],
        Reference = rollouts.References.IsDefaultOrEmpty ? null : rollouts.References[r],
        Truncated = !rollouts.Truncated.IsDefaultOrEmpty && rollouts.Truncated[r],
        Reward = rewards.IsDefault || rewards.Length != rollouts.Count ? null : rewards[r],
        RewardComponents = _components.TryGet(rollouts, r, out var scored)
            ? scored.Components.ToDictionary(c => c.Key, c => c.Value[scored.Row], StringComparer.Ordinal)
            : null,
        BehaviourLogProbs = rollouts.BehaviourLogProbs[r],
        ReferenceLogProbs = reference.IsDefault || reference.Length != rollouts.Count ? null : reference[r],
    };
}

using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Config;

/// <summary>Where a run's per-step figures go besides <c>metrics.jsonl</c>, which every run writes.</summary>
public enum ReportTarget
{
    /// <summary><c>&lt;output_dir&gt;/metrics.jsonl</c>: always written (<c>rlhf metrics</c>, <c>plot</c> and
    /// <c>status</c> read it); listing it changes nothing.</summary>
    Jsonl,
    /// <summary>TensorBoard event files in <c>&lt;output_dir&gt;/runs/</c>.</summary>
    Tensorboard,
}

/// <summary>
/// What a run records of itself as it goes, under TRL's top-level names: <c>logging_steps</c> (the period of the
/// metrics lines), <c>report_to</c> (extra sinks) and <c>trace_rollouts</c> (MessagePack traces of rollout batches,
/// bounded by <c>trace_file_mb</c> per file and <c>trace_max_mb</c> in all).
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.LoggingSection")]
public sealed record LoggingSection
{
    /// <summary>A metrics line every this many policy updates (TRL's GRPOConfig default). Evaluations, stage ends and
    /// the reward model's last step are logged whatever the period.</summary>
    [Id(0)] public int LoggingSteps { get; init; } = 10;
    /// <summary>Sinks besides metrics.jsonl, which is always written (empty: that file alone; an empty default keeps
    /// the config's value equality, which an array literal's fresh reference would break).</summary>
    [Id(1)] public ImmutableArray<ReportTarget> ReportTo { get; init; } = [];
    /// <summary>The fraction of rollout batches traced: 0 = none (YAML <c>false</c>), 1 = every one (<c>true</c>).
    /// Which batches is decided by the step alone, so a resumed run traces the same ones.</summary>
    [Id(2)] public double TraceRollouts { get; init; }
    /// <summary>A trace file is closed and the next one started past this size (MiB).</summary>
    [Id(3)] public int TraceFileMb { get; init; } = 64;
    /// <summary>No trace is written once the run's trace files hold this much (MiB); the status and the metrics say
    /// when the cap was reached.</summary>
    [Id(4)] public int TraceMaxMb { get; init; } = 1024;

    public bool Reports(ReportTarget target) => target == ReportTarget.Jsonl || !ReportTo.IsDefault && ReportTo.Contains(target);

    /// <summary>This section's rules, each naming its YAML field.</summary>
    public void Validate(ConfigRules rules)
    {
        rules.Check(LoggingSteps >= 1, "logging_steps", "must be >= 1", LoggingSteps);
        foreach (var target in ReportTo.IsDefault ? [] : ReportTo)
            rules.Check(Enum.IsDefined(target), "report_to", ConfigNames.OneOf<ReportTarget>(), target);
        rules.Check(TraceRollouts is >= 0 and <= 1, "trace_rollouts", "must be true, false or a fraction of batches in [0, 1]", TraceRollouts);
        rules.Check(TraceFileMb is >= 1 and <= 4096, "trace_file_mb", "must be between 1 and 4096", TraceFileMb);
        rules.Check(TraceMaxMb >= TraceFileMb, "trace_max_mb", $"must be at least trace_file_mb ({TraceFileMb})", TraceMaxMb);
    }
}

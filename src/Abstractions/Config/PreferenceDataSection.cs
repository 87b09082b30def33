using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Config;

/// <summary>
/// Where a stage's labelled preference pairs come from (<c>reward_model.pairs</c>, <c>dpo.pairs</c>): JSONL files with
/// TRL's <c>prompt</c> / <c>chosen</c> / <c>rejected</c> fields, or pairs made from a built-in task's exact answers
/// (chosen = the right answer, rejected = a plausible wrong one). Unset fields fall back to the experiment's
/// <c>data:</c> section, so <c>pairs: {task_parameters: {digits: 1}}</c> labels another difficulty of the same task.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.PreferenceDataSection")]
public sealed record PreferenceDataSection
{
    [Id(0)] public string? Task { get; init; }
    /// <summary>Empty: the experiment's data.task_parameters (when the task is the same).</summary>
    [Id(1)] public ImmutableSortedDictionary<string, int> TaskParameters { get; init; } = ImmutableSortedDictionary<string, int>.Empty;
    [Id(2)] public int? TrainExamples { get; init; }
    [Id(3)] public int? EvalExamples { get; init; }
    [Id(4)] public string? TrainFile { get; init; }
    [Id(5)] public string? EvalFile { get; init; }
    /// <summary>Seed offset for the task's generator, so labelled pairs need not repeat the policy's prompts.</summary>
    [Id(6)] public int SeedOffset { get; init; } = 17;

    /// <summary>This section's rules, its fields named under <paramref name="path"/> (<c>dpo.pairs</c>).</summary>
    public void Validate(ConfigRules rules, string path)
    {
        rules.Check(Task is null || TrainFile is null, path, "must set at most one of 'task' and 'train_file'", Task);
        rules.Check(TrainFile is null == EvalFile is null, $"{path}.eval_file", "must be given with train_file (held-out pairs)", EvalFile);
        if (TrainExamples is { } train) rules.CheckCount(train, $"{path}.train_examples", DataSection.MaxTrainExamples);
        if (EvalExamples is { } eval) rules.CheckCount(eval, $"{path}.eval_examples", DataSection.MaxEvalExamples);
    }
}

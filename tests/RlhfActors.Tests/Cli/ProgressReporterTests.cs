using System.Collections.Immutable;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Client.Progress;

namespace RlhfActors.Tests.Cli;

public sealed class ProgressReporterTests
{
    static ExperimentStatus At(string stage, params StageSummary[] done) => new()
    {
        ExperimentId = "x", State = ExperimentState.Running, Stage = stage, Phase = "training", Step = 0, TotalSteps = 100, Stages = [.. done],
    };

    static readonly StageSummary Sft = new()
    {
        Name = "sft", Steps = 80, Seconds = 12.34,
        Metrics = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, double> { ["eval/accuracy"] = 0.489, ["loss"] = 0.2 }),
    };

    static readonly StageSummary RewardModel = new()
    {
        Name = "reward_model", Steps = 1500, Seconds = 114.3,
        Metrics = ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, double> { ["eval/preference_accuracy"] = 0.76 }),
    };

    /// <summary>A reward model trains no policy steps: without stage lines a log would say nothing for its whole
    /// training. Each line is written once, however often the same status is polled.</summary>
    [Fact]
    public void Stages_and_rounds_get_one_permanent_line_each()
    {
        var output = new StringWriter();
        var reporter = new ProgressReporter(output, interactive: false);
        reporter.Report(At("sft"));
        reporter.Report(At("reward_model", Sft));
        reporter.Report(At("reward_model", Sft));
        reporter.Report(At("rlaif", Sft, RewardModel) with
        {
            Rounds = [new RlaifRoundSummary { Round = 1, Pairs = 160, Uncertain = 90, JudgeAgreement = 1.0, AccuracyAfter = 0.559 }],
        });

        Assert.Equal(
        [
            "[x] stage sft done: 80 steps in 12.3 s; accuracy 0.489",
            "[x] stage reward_model started",
            "[x] stage reward_model done: 1500 steps in 114.3 s; preference_accuracy 0.76",
            "[x] stage rlaif started",
            "[x] round 1: 160 pairs (90 prompts too uncertain), judge agreement 1.00, accuracy 55.9%",
        ], output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
    }
}

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

    /// <summary>A lost worker and the resume are one line each; evaluations dropped by the resume and taken again are
    /// shown as new, the ones before the checkpoint are not repeated.</summary>
    [Fact]
    public void A_recovery_and_its_resume_get_one_line_each_and_no_evaluation_is_repeated()
    {
        static EvalSummary Eval(int step, long version) => new() { Step = step, PolicyVersion = version, Examples = 10, Correct = 5, Accuracy = 0.5, Seconds = 0.1 };
        var output = new StringWriter();
        var reporter = new ProgressReporter(output, interactive: false);
        var running = At("sft") with { Step = 60, Evals = [Eval(0, 0), Eval(50, 1)] };
        reporter.Report(running);
        reporter.Report(running with { Step = 60, Phase = "recovering: silo lost" });
        reporter.Report(running with { Step = 60, Phase = "recovering: silo lost" });
        reporter.Report(running with { Step = 40, Evals = [Eval(0, 0)], Resumes = 1, ResumedFromStep = 40 });
        reporter.Report(running with { Step = 50, Evals = [Eval(0, 0), Eval(50, 3)], Resumes = 1, ResumedFromStep = 40 });

        var lines = output.ToString().Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries).Where(l => !l.Contains("loss") && !l.Contains("step 60/")).ToArray();
        Assert.Equal(
        [
            "[x] eval at step 0 (policy v0): accuracy 50.0% (5/10) in 0.1 s",
            "[x] eval at step 50 (policy v1): accuracy 50.0% (5/10) in 0.1 s",
            "[x] step 60: recovering: silo lost",
            "[x] resumed at step 40 (resume 1)",
            "[x] eval at step 50 (policy v3): accuracy 50.0% (5/10) in 0.1 s",
        ], lines);
    }
}

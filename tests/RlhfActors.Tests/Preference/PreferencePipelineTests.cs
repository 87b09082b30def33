using System.Diagnostics;
using System.Text.RegularExpressions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Tests.Grpo;
using RlhfActors.Tests.Judging;

namespace RlhfActors.Tests.Preference;

/// <summary>The preference stages end to end through the grains on the split cluster (every message crosses silos):
/// SFT → DPO with ReferenceGrain, SFT → reward model → PPO with CriticGrain, SFT → judge → RLAIF rounds, and an RLAIF
/// run whose HTTP judge goes down mid-run and comes back without a lost round.</summary>
[Collection(SplitClusterCollection.Name)]
public sealed partial class PreferencePipelineTests(SplitClusterFixture fixture)
{
    static string NewName(string what) => $"{what}-{Guid.NewGuid():N}"[..24];

    static async Task<ExperimentResult> CompletedAsync(IClusterClient client, ExperimentConfig config)
    {
        var status = await GrpoRuns.RunAsync(client, config);
        Assert.True(status.State == ExperimentState.Completed, $"run ended {status.State} in phase '{status.Phase}': {status.Error}");
        return (await client.GetGrain<IExperimentGrain>(config.Name).GetResult())!;
    }

    [Theory]
    [InlineData(DpoLossVariant.Sigmoid)]
    [InlineData(DpoLossVariant.Simpo)]
    public async Task Dpo_runs_after_the_warm_up_and_reports_preference_metrics_and_retention(DpoLossVariant lossType)
    {
        var config = TinyPreference.Dpo(NewName("dpo"), lossType);
        var result = await CompletedAsync(fixture.Client, config);
        Assert.Equal(["sft", "dpo"], result.Stages.Select(s => s.Name));
        var dpo = result.Stages[1];
        Assert.Equal(config.Dpo.Steps, dpo.Steps);
        Assert.Equal(config.Sft.Steps + config.Dpo.Steps, result.Steps);
        foreach (var metric in new[] { "eval/preference_accuracy", "rewards/chosen", "rewards/rejected", "rewards/margins", "rewards/accuracies", "loss" })
            Assert.True(dpo.Metrics.ContainsKey(metric), $"dpo stage lacks {metric}");
        Assert.InRange(dpo.Metrics["eval/preference_accuracy"], 0, 1);
        Assert.Equal(16, dpo.Metrics["eval/pairs"]);
        var lines = Metrics.RunHistory.Read(config.OutputDir);
        var last = Metrics.RunHistory.AssertLast(lines, "dpo", "loss", "rewards/margin", "rewards/accuracy", "eval/preference_accuracy", "eval/reverse-3/accuracy");
        Assert.Equal(dpo.Metrics["eval/preference_accuracy"], last["eval/preference_accuracy"]);
        // Forgetting watch: evaluated before training and at every evaluation since.
        var watch = Assert.Single(result.Retention);
        Assert.Equal("reverse-3", watch.Name);
        Assert.True(watch.Evals.Length >= 3, $"{watch.Evals.Length} watch evaluations");
        Assert.Equal(watch.Evals[^1].Accuracy, watch.Latest);
    }

    [Fact]
    public async Task Ppo_trains_a_reward_model_then_updates_with_a_critic()
    {
        var config = TinyPreference.Ppo(NewName("ppo"));
        var result = await CompletedAsync(fixture.Client, config);
        Assert.Equal(["sft", "reward_model", "ppo"], result.Stages.Select(s => s.Name));
        var rm = result.Stages[1];
        Assert.Equal(config.RewardModel.Steps, rm.Steps);
        Assert.InRange(rm.Metrics["eval/preference_accuracy"], 0, 1);
        Assert.True(File.Exists(Path.Combine(config.OutputDir, "reward_model", "model.safetensors")), "the reward model was not saved");
        var ppo = result.Stages[2];
        Assert.Equal(config.Ppo.Steps, ppo.Steps);
        Assert.True(double.IsFinite(ppo.Metrics["val/explained_variance"]));
        Assert.True(ppo.Metrics["objective/kl"] >= 0);
        Assert.Equal(config.Sft.Steps + config.Ppo.Steps, result.Steps);
        var lines = Metrics.RunHistory.Read(config.OutputDir);
        Assert.Equal(rm.Metrics["eval/preference_accuracy"], Metrics.RunHistory.AssertLast(lines, "reward_model", "eval/preference_accuracy")["eval/preference_accuracy"]);
        Metrics.RunHistory.AssertLast(lines, "reward_model", "loss", "rewards/accuracy");
        Metrics.RunHistory.AssertLast(lines, "ppo", "loss", "reward", "kl", "clip_fraction", "value_loss", "explained_variance", "entropy");
        // Each PPO step publishes a version: the controller's status follows the learner's.
        Assert.Equal(result.PolicyVersion, await fixture.Client.GetGrain<IPolicyGrain>(config.Name).GetLatestVersionNumber());
    }

    [Fact]
    public async Task Rlaif_rounds_pair_the_judges_best_and_worst_and_report_accuracy_per_round()
    {
        var config = TinyPreference.Rlaif(NewName("rlaif"));
        var result = await CompletedAsync(fixture.Client, config);
        Assert.Equal(["sft", "reward_model", "rlaif"], result.Stages.Select(s => s.Name));
        Assert.Equal([1, 2], result.Rounds.Select(r => r.Round));
        foreach (var round in result.Rounds)
        {
            Assert.Equal(0, round.Uncertain); // min_confidence 0.5: every pair the judge can tell apart is kept
            Assert.InRange(round.Pairs + round.Skipped, 1, config.Rlaif.PromptsPerRound);
            Assert.InRange(round.AccuracyAfter, 0, 1);
            if (round.Pairs > 0) Assert.InRange(round.ChosenCorrect!.Value, 0, 1);
        }
        var lines = Metrics.RunHistory.Read(config.OutputDir);
        Assert.Equal(result.Rounds.Select(r => (double)r.Pairs), lines.Where(l => l["rlaif/pairs"] is not null).Select(l => l["rlaif/pairs"]!.Value));
        foreach (var round in result.Rounds.Where(r => r.JudgeAgreement is not null))
            Assert.Contains(lines, l => l["judge/agreement"] == round.JudgeAgreement);
    }

    /// <summary>The judge a run trained is saved beside its checkpoints; a second run names it in reward_model.init
    /// with steps 0, trains nothing, and measures the very same model: the same held-out preference accuracy and
    /// margin. Its stricter min_confidence leaves out pairs the first run kept.</summary>
    [Fact]
    public async Task A_trained_judge_is_saved_and_reused_by_a_later_run()
    {
        var first = TinyPreference.Rlaif(NewName("rlaif-save"));
        var trained = (await CompletedAsync(fixture.Client, first)).Stages[1];
        var folder = Path.Combine(first.OutputDir, "reward_model");
        Assert.True(File.Exists(Path.Combine(folder, "config.json")) && File.Exists(Path.Combine(folder, "model.safetensors")),
            $"no reward model folder at {folder}");

        var second = TinyPreference.Rlaif(NewName("rlaif-reuse"), new JudgeSection { MinConfidence = 0.999 }) with
        {
            RewardModel = first.RewardModel with { Init = folder, Steps = 0 },
        };
        var reused = await CompletedAsync(fixture.Client, second);
        var stage = reused.Stages[1];
        Assert.Equal(("reward_model", 0), (stage.Name, stage.Steps));
        Assert.False(stage.Metrics.ContainsKey("loss"));
        Assert.Equal(trained.Metrics["eval/preference_accuracy"], stage.Metrics["eval/preference_accuracy"]);
        Assert.Equal(trained.Metrics["eval/margin"], stage.Metrics["eval/margin"], 5);
        Assert.Equal(stage.Metrics["eval/preference_accuracy"], stage.Metrics["eval/preference_accuracy_before"]);
        Assert.Contains(reused.Rounds, r => r.Uncertain > 0);
    }

    /// <summary>An OpenAI-compatible judge that knows arithmetic answers for the candidate holding the right sum; it
    /// is down (503) for its first requests: the run pauses with the judge's message and keeps the round, and a
    /// resume finishes it with every round judged.</summary>
    [Fact]
    public async Task An_http_judge_outage_pauses_the_run_and_resume_finishes_every_round()
    {
        var down = 1;
        using var server = new LoopbackChatServer(request =>
        {
            if (Volatile.Read(ref down) == 1) return new LoopbackChatServer.Reply(503, "overloaded");
            var m = Question().Match(request.UserMessage);
            var sum = (int.Parse(m.Groups["a"].Value) + int.Parse(m.Groups["b"].Value)).ToString();
            return LoopbackChatServer.Reply.Answer(m.Groups["B"].Value.Trim() == sum ? "B" : "A");
        });
        var config = TinyPreference.Rlaif(NewName("rlaif-http"), new JudgeSection
        {
            Type = JudgeType.Http, BaseUrl = server.BaseUrl.ToString(), Model = "judge", MaxConcurrency = 4, TimeoutSeconds = 5, Retries = 1,
        }) with { RewardModel = new RewardModelSection() };
        var grain = fixture.Client.GetGrain<IExperimentGrain>(config.Name);
        await grain.Start(config);
        var clock = Stopwatch.StartNew();
        ExperimentStatus status;
        while (true)
        {
            status = await grain.GetStatus();
            if (status.State is ExperimentState.Paused || status.IsFinished) break;
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(90), $"still {status.State} ({status.Phase})");
            await Task.Delay(100);
        }
        Assert.Equal(ExperimentState.Paused, status.State);
        Assert.Contains("judge unavailable", status.Error);
        Assert.Contains(server.BaseUrl.Host, status.Error);
        Assert.Empty(status.Rounds);

        Volatile.Write(ref down, 0);
        await grain.Resume();
        var finished = await GrpoRuns.RunAsync(fixture.Client, config, alreadyStarted: true);
        Assert.True(finished.State == ExperimentState.Completed, $"run ended {finished.State}: {finished.Error}");
        var result = (await grain.GetResult())!;
        Assert.Equal(["sft", "rlaif"], result.Stages.Select(s => s.Name));
        Assert.Equal([1, 2], result.Rounds.Select(r => r.Round));
        // The judge answered from the right sum in both orders, so every decisive pair agrees with the verifier.
        foreach (var round in result.Rounds.Where(r => r.JudgeAgreement is not null)) Assert.Equal(1.0, round.JudgeAgreement);
    }

    [GeneratedRegex(@"Question:\n(?<a>\d+)\+(?<b>\d+)=\n\nAnswer A:\n(?<A>.*)\n\nAnswer B:\n(?<B>.*)\n\nWhich")]
    private static partial Regex Question();
}

using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rollouts;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// The GRPO stage of the controller, one update per tick (DESIGN.md, "Data flow of one online step"):
/// 1. the step's prompts (<see cref="GrpoPlan"/>: the same prompts and seeds as the in-process loop) are split over
///    the samplers, which generate G completions each with the newest policy version;
/// 2. the reward grain scores them (under dynamic sampling, groups without signal are dropped and refilled);
/// 3. the reference grain adds its log-probs (only when β &gt; 0);
/// 4. the learner updates and publishes the next version, which the samplers pull before their next batch.
/// In async mode step t+1's generation and scoring (1–2) start before step t's update (3–4) and run alongside it:
/// those rollouts are one version old when trained on, which the learner checks against max_staleness.
/// </summary>
public sealed partial class ExperimentGrain
{
    const int RecentRewardWindow = 20;

    GrpoPlan? _plan;
    // The step whose rollouts are requested next / trained next (0-based within the GRPO stage).
    int _grpoRequested, _grpoTrained;
    Task<ScoredRollouts>? _pending;
    readonly Queue<double> _recentRewards = new();
    // The plan's prompt position before each requested step drew its prompts (an abandoned step rewinds to it).
    readonly Dictionary<int, (int Epoch, int Cursor)> _planPositions = [];

    sealed record ScoredRollouts(RolloutBatchMessage Rollouts, ImmutableArray<double> Rewards, int FilteredGroups);

    async Task StartGrpoAsync()
    {
        var config = Config;
        BeginStage("grpo", "starting grpo");
        SetStatus(s => s with { Grpo = new GrpoStats() });
        var start = await Learner.StartGrpo();
        Record.PublishedStep = start.Step;
        SetStatus(s => s with { PolicyVersion = start.Version });
        var init = Record.SamplerInit!;
        var setup = new List<Task>
        {
            Reward.Initialize(config),
        };
        setup.AddRange(Enumerable.Range(0, config.Grpo.Samplers).Select(i => SamplerAt(i).Initialize(init)));
        if (NeedsReferenceGrain(config)) setup.Add(Reference.Initialize(new ReferenceInit { Model = init, Version = start.Version }));
        await Task.WhenAll(setup);
        // Prompts are drawn here, in the controller, like the in-process loop draws them: a built-in task's
        // generator is cheap, and JSONL prompts are read once.
        _plan = new GrpoPlan(ExperimentData.Load(ExperimentSpecs.Data(config)).Train, config.Seed);
        (_grpoRequested, _grpoTrained, _pending) = (0, 0, null);
        _planPositions.Clear();
        _recentRewards.Clear();
        _phase = Phase.GrpoTrain;
        LogGrpoStarted(ExperimentId, start.Version, config.Grpo.Mode, config.Grpo.Samplers);
    }

    async Task GrpoStepAsync()
    {
        var config = Config;
        var grpo = config.Grpo;
        var clock = Stopwatch.StartNew();
        SetStatus(s => s with { Phase = "training" });

        ScoredRollouts scored;
        try
        {
            scored = await (_pending ?? SampleAndScoreAsync());
        }
        catch (RewardOutageException e)
        {
            // Nothing of this step was applied: forget its rollouts (and any requested after it) and retry it whole on
            // resume, from the same prompts.
            _plan!.Rewind(_planPositions[_grpoTrained]);
            (_pending, _grpoRequested) = (null, _grpoTrained);
            PauseForOutage($"grpo step {_grpoTrained + 1}", e.Message);
            return;
        }
        _pending = null;
        // Async: the next batch is generated (with the version published now) while this one trains.
        if (grpo.Mode == Abstractions.Config.GrpoSection.Async && _grpoRequested < grpo.Steps) _pending = SampleAndScoreAsync();

        var reference = NeedsReferenceGrain(config) && scored.Rollouts.Count > 0
            ? await Reference.LogProbs(scored.Rollouts, grpo.Temperature)
            : default;
        var result = scored.Rollouts.Count == 0
            ? new GrpoStepResult { Dropped = true, Step = Record.Status.Step, PolicyVersion = Record.Status.PolicyVersion }
            : await Learner.GrpoStep(new GrpoStepRequest
            {
                Rollouts = scored.Rollouts,
                Rewards = scored.Rewards,
                ReferenceLogProbs = reference,
                LearningRate = grpo.LearningRate,
            });
        _grpoTrained++;
        Record.TrainSeconds += clock.Elapsed.TotalSeconds;
        RecordGrpoStep(scored, result, clock.Elapsed.TotalSeconds);

        if (_grpoTrained >= grpo.Steps)
        {
            var stats = Record.Status.Grpo!;
            var metrics = new Dictionary<string, double> { ["reward"] = stats.RecentMeanReward ?? double.NaN, ["loss"] = result.Loss };
            if (stats.LastKl is { } kl) metrics["kl"] = kl;
            EndStage(metrics.ToImmutableSortedDictionary(StringComparer.Ordinal));
            _phase = Phase.Finish;
            return;
        }
        if (IsBoundary(_grpoTrained, config.Eval.Every)) await EvaluateAsync();
        if (IsBoundary(_grpoTrained, config.Checkpoint.Every)) await CheckpointAsync();
        SetStatus(s => s with { Phase = "training" });
    }

    /// <summary>The KL term needs reference log-probs. Under LoRA the learner computes them itself with its adapters
    /// switched off (the reference is its own frozen base), so no reference grain holds a second copy.</summary>
    static bool NeedsReferenceGrain(Abstractions.Config.ExperimentConfig config) =>
        config.Grpo.Beta > 0 && !config.Peft.Covers(Abstractions.Config.PeftSection.GrpoStage);

    /// <summary>Generates and scores the next step's rollouts over all samplers with the newest published version;
    /// under dynamic sampling keeps only groups with a reward signal, refilling up to <see cref="GrpoLoop.MaxRefills"/>
    /// times (the in-process loop's rule).</summary>
    async Task<ScoredRollouts> SampleAndScoreAsync()
    {
        var grpo = Config.Grpo;
        int step = _grpoRequested++;
        _planPositions.Remove(step - 2);
        _planPositions[step] = _plan!.Position;
        long minVersion = Record.Status.PolicyVersion;
        var kept = new List<RolloutBatch>();
        var keptRewards = new List<double>();
        int keptGroups = 0, filtered = 0;
        double seconds = 0;
        for (int attempt = 0; attempt == 0 || grpo.DynamicSampling && attempt <= GrpoLoop.MaxRefills && keptGroups < grpo.PromptsPerStep; attempt++)
        {
            var merged = await SampleAsync(step, grpo.PromptsPerStep, grpo.NumGenerations, grpo.MaxCompletionLength, grpo.Temperature,
                grpo.Samplers, minVersion, seedIndex: attempt * grpo.Samplers);
            var rewards = await ScoreAsync(merged.ToRewardBatch());
            if (!grpo.DynamicSampling) return new ScoredRollouts(merged, rewards, 0);

            var (withSignal, signalRewards) = GrpoPlan.KeepGroupsWithSignal(merged.ToBatch(), rewards);
            filtered += merged.Count / merged.GroupSize - withSignal.Groups;
            keptGroups += withSignal.Groups;
            seconds += merged.Seconds;
            kept.Add(withSignal);
            keptRewards.AddRange(signalRewards);
        }
        var (batch, batchRewards) = GrpoPlan.FirstGroups(RolloutBatch.Concat(kept), keptRewards, grpo.PromptsPerStep);
        return new ScoredRollouts(batch.ToMessage(seconds), [.. batchRewards], filtered);
    }

    void RecordGrpoStep(ScoredRollouts scored, GrpoStepResult result, double seconds)
    {
        var stats = Record.Status.Grpo ?? new GrpoStats();
        long sequences = scored.Rollouts.Count;
        if (!result.Dropped)
        {
            _recentRewards.Enqueue(result.MeanReward);
            while (_recentRewards.Count > RecentRewardWindow) _recentRewards.Dequeue();
        }
        stats = stats with
        {
            Steps = stats.Steps + (result.Dropped ? 0 : 1),
            LastMeanReward = result.Dropped ? stats.LastMeanReward : result.MeanReward,
            RecentMeanReward = _recentRewards.Count > 0 ? _recentRewards.Average() : null,
            LastKl = result.Dropped ? stats.LastKl : result.MeanKl,
            LastClipFraction = result.Dropped ? stats.LastClipFraction : result.ClipFraction,
            StaleRollouts = stats.StaleRollouts + (!result.Dropped && result.Staleness > 0 ? sequences : 0),
            DroppedRollouts = stats.DroppedRollouts + (result.Dropped ? sequences : 0),
            CorrectedRollouts = stats.CorrectedRollouts + (result.ImportanceCorrected ? sequences : 0),
            MaxTrainedStaleness = result.Dropped ? stats.MaxTrainedStaleness : Math.Max(stats.MaxTrainedStaleness, result.Staleness),
            StepSeconds = stats.StepSeconds + seconds,
            GenerationSeconds = stats.GenerationSeconds + scored.Rollouts.Seconds,
            UpdateSeconds = stats.UpdateSeconds + result.Seconds,
            CompletionTokens = stats.CompletionTokens + result.CompletionTokens,
            FilteredGroups = stats.FilteredGroups + scored.FilteredGroups,
            LastSyncBytes = result.Dropped ? stats.LastSyncBytes : result.PublishedBytes,
        };
        if (!result.Dropped) Record.PublishedStep = result.Step;
        SetStatus(s => s with
        {
            Grpo = stats,
            Step = result.Dropped ? s.Step : result.Step,
            PolicyVersion = result.PolicyVersion,
            LastLoss = result.Dropped ? s.LastLoss : result.Loss,
            LearningRate = Config.Grpo.LearningRate,
        });
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: GRPO from policy version {Version}, {Mode} mode, {Samplers} sampler(s)")]
    private partial void LogGrpoStarted(string experimentId, long version, string mode, int samplers);
}

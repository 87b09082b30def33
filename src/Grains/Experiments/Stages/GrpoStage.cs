using System.Collections.Immutable;
using System.Diagnostics;
using System.Security.Cryptography;
using System.Text;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Grains;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;
using RlhfActors.Training.Metrics;
using RlhfActors.Training.Rl;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// The GRPO stage, one update per tick (DESIGN.md, "Data flow of one online step"):
/// 1. the step's prompts (<see cref="GrpoPlan"/>: the same prompts and seeds as the in-process loop) are split over
///    the samplers, which generate G completions each with the newest policy version;
/// 2. the reward grain scores them (under dynamic sampling, groups without signal are dropped and refilled);
/// 3. the reference grain adds its log-probs (only when β &gt; 0);
/// 4. the learner updates and publishes the next version, which the samplers pull before their next batch.
/// In async mode step t+1's generation and scoring (1–2) start before step t's update (3–4) and run alongside it:
/// those rollouts are one version old when trained on, which the learner checks against max_staleness.
/// <para>
/// Resume: the saved state is the plan's prompt position before the next step drew, the steps trained, the running
/// figures and the reference's frozen version (with the checkpoint that holds its weights). With the learner's
/// checkpoint (weights, AdamW moments) that is everything a sync step depends on, so a resumed sync run ends
/// bit-identical to an uninterrupted one. An async run's in-flight batch is not kept: the first step after a resume
/// regenerates it from the same prompts and seeds with the newest weights (on-policy), so no prompt is skipped or
/// trained twice (<see cref="GrpoStats.PromptsSha256"/>), but the weights differ from an uninterrupted async run's.
/// </para>
/// </summary>
public sealed class GrpoStage(RunContext run) : ExperimentStage(run)
{
    const int RecentRewardWindow = 20;

    GrpoPlan? _plan;
    // The step whose rollouts are requested next / trained next (0-based within the stage).
    int _requested, _trained;
    Task<ScoredRollouts>? _pending;
    readonly Queue<double> _recentRewards = new();
    // The plan's prompt position before each requested step drew its prompts (an abandoned step rewinds to it).
    readonly Dictionary<int, (int Epoch, int Cursor)> _planPositions = [];
    long _referenceVersion = -1;
    string _referenceCheckpoint = "";
    string _promptsSha256 = "";

    /// <param name="Terms">Each reward term's scores [K][B] in the config's order when the learner normalises terms
    /// (multi_objective_aggregation normalize_then_sum); default otherwise.</param>
    sealed record ScoredRollouts(RolloutBatchMessage Rollouts, ImmutableArray<double> Rewards, int FilteredGroups,
        ImmutableArray<ImmutableArray<double>> Terms = default);

    /// <summary>What <see cref="SaveState"/> writes.</summary>
    sealed record State(int Trained, int Epoch, int Cursor, GrpoStats Stats, double[] RecentRewards, long ReferenceVersion,
        string ReferenceCheckpoint, string PromptsSha256);

    public override string Name => "grpo";

    public override string? CannotResume(ExperimentConfig config) => config.Peft.Covers(PeftSection.GrpoStage)
        ? "a GRPO stage that trains LoRA adapters cannot resume from a checkpoint yet" : null;

    public override IEnumerable<string> PinnedCheckpoints =>
        NeedsReferenceGrain(Run.Config) && _referenceCheckpoint.Length > 0 ? [_referenceCheckpoint] : [];

    public override async Task StartAsync()
    {
        var config = Run.Config;
        Run.BeginStage(Name, "starting grpo");
        Run.SetStatus(s => s with { Grpo = new GrpoStats() });
        var start = await Run.Learner.StartGrpo();
        Run.Record.PublishedStep = start.Step;
        Run.SetStatus(s => s with { PolicyVersion = start.Version });
        // The reference is the policy the stage starts from: the stage-boundary checkpoint just written holds it.
        (_referenceVersion, _referenceCheckpoint) = (start.Version, Run.Record.Status.CheckpointPath ?? "");
        await SetUpRolesAsync();
        (_requested, _trained, _pending, _promptsSha256) = (0, 0, null, "");
        _planPositions.Clear();
        _recentRewards.Clear();
        Run.Logger.GrpoStarted(Run.ExperimentId, start.Version, config.Grpo.Mode.Yaml(), config.Grpo.Samplers);
    }

    public override string SaveState()
    {
        // In async mode the next step's prompts may already be drawn: the state is from before they were.
        var (epoch, cursor) = _planPositions.TryGetValue(_trained, out var before) ? before : _plan!.Position;
        return ControllerCursor.Serialize(new State(_trained, epoch, cursor, Run.Record.Status.Grpo ?? new GrpoStats(),
            [.. _recentRewards], _referenceVersion, _referenceCheckpoint, _promptsSha256));
    }

    public override async Task RestoreAsync(string json)
    {
        var state = ControllerCursor.Deserialize<State>(json, Name);
        // The learner resumed in its GRPO stage and published the restored weights (or still holds them).
        var version = await Run.PublishAsync();
        (_referenceVersion, _referenceCheckpoint) = (state.ReferenceVersion, state.ReferenceCheckpoint);
        await SetUpRolesAsync();
        _plan!.Rewind((state.Epoch, state.Cursor));
        (_requested, _trained, _pending, _promptsSha256) = (state.Trained, state.Trained, null, state.PromptsSha256);
        _planPositions.Clear();
        _recentRewards.Clear();
        foreach (var reward in state.RecentRewards) _recentRewards.Enqueue(reward);
        Run.SetStatus(s => s with { Grpo = state.Stats, PolicyVersion = version });
    }

    /// <summary>Reward, samplers and (β &gt; 0, no LoRA) the frozen reference; idempotent, so a resume re-runs it and
    /// only a lost grain is rebuilt. Prompts are drawn here, in the controller, like the in-process loop draws them.</summary>
    async Task SetUpRolesAsync()
    {
        var config = Run.Config;
        var init = Run.Record.SamplerInit!;
        var setup = new List<Task> { Run.Reward.Initialize(config) };
        setup.AddRange(Enumerable.Range(0, config.Grpo.Samplers).Select(i => Run.SamplerAt(i).Initialize(init)));
        if (NeedsReferenceGrain(config))
            setup.Add(Run.Reference.Initialize(new ReferenceInit { Model = init, Version = _referenceVersion, Checkpoint = _referenceCheckpoint }));
        await Task.WhenAll(setup);
        _plan = new GrpoPlan(ExperimentData.Load(ExperimentSpecs.Data(config)).Train, config.Seed);
    }

    public override async Task<bool> StepAsync()
    {
        var config = Run.Config;
        var grpo = config.Grpo;
        var clock = Stopwatch.StartNew();
        Run.SetStatus(s => s with { Phase = "training" });

        ScoredRollouts scored;
        try
        {
            scored = await (_pending ?? SampleAndScoreAsync());
        }
        catch (RewardOutageException e)
        {
            // Nothing of this step was applied: forget its rollouts (and any requested after it) and retry it whole on
            // resume, from the same prompts.
            _plan!.Rewind(_planPositions[_trained]);
            (_pending, _requested) = (null, _trained);
            Run.PauseForOutage($"grpo step {_trained + 1}", e.Message);
            return false;
        }
        _pending = null;
        // Async: the next batch is generated (with the version published now) while this one trains.
        if (grpo.Mode == GrpoMode.Async && _requested < grpo.Steps) _pending = SampleAndScoreAsync();

        var reference = NeedsReferenceGrain(config) && scored.Rollouts.Count > 0
            ? await Run.Reference.LogProbs(scored.Rollouts, grpo.Temperature)
            : default;
        var result = scored.Rollouts.Count == 0
            ? new GrpoStepResult { Dropped = true, Step = Run.Record.Status.Step, PolicyVersion = Run.Record.Status.PolicyVersion }
            : await Run.Learner.GrpoStep(new GrpoStepRequest
            {
                Rollouts = scored.Rollouts,
                Rewards = scored.Rewards,
                ReferenceLogProbs = reference,
                LearningRate = grpo.LearningRate,
                RewardComponents = scored.Terms,
            });
        _trained++;
        _planPositions.Remove(_trained - 2);
        _promptsSha256 = ChainPrompts(_promptsSha256, scored.Rollouts);
        Run.Record.TrainSeconds += clock.Elapsed.TotalSeconds;
        RecordStep(scored, result, clock.Elapsed.TotalSeconds);
        Run.Traces.Write(Name, result.Step, scored.Rollouts, scored.Rewards, reference);

        if (_trained < grpo.Steps)
        {
            await Run.AtBoundaryAsync(_trained);
            return false;
        }
        var stats = Run.Record.Status.Grpo!;
        var metrics = new Dictionary<string, double> { ["reward"] = stats.RecentMeanReward ?? double.NaN, ["loss"] = result.Loss };
        if (stats.LastKl is { } kl) metrics["kl"] = kl;
        Run.EndStage(metrics.ToImmutableSortedDictionary(StringComparer.Ordinal));
        return true;
    }

    /// <summary>The KL term needs reference log-probs. Under LoRA the learner computes them itself with its adapters
    /// switched off (the reference is its own frozen base), so no reference grain holds a second copy.</summary>
    public static bool NeedsReferenceGrain(ExperimentConfig config) =>
        config.Grpo.Beta > 0 && !config.Peft.Covers(PeftSection.GrpoStage);

    /// <summary>Generates and scores the next step's rollouts over all samplers with the newest published version;
    /// under dynamic sampling keeps only groups with a reward signal, refilling up to <see cref="GrpoLoop.MaxRefills"/>
    /// times (the in-process loop's rule).</summary>
    async Task<ScoredRollouts> SampleAndScoreAsync()
    {
        var grpo = Run.Config.Grpo;
        int step = _requested++;
        _planPositions[step] = _plan!.Position;
        long minVersion = Run.Record.Status.PolicyVersion;
        var kept = new List<RolloutBatchMessage>();
        var keptRewards = new List<double>();
        var keptTerms = new List<double[]>();
        int keptGroups = 0, filtered = 0;
        for (int attempt = 0; attempt == 0 || grpo.DynamicSampling && attempt <= GrpoLoop.MaxRefills && keptGroups < grpo.PromptsPerStep; attempt++)
        {
            var merged = await Run.SampleAsync(_plan, step, grpo.PromptsPerStep, grpo.NumGenerations, grpo.MaxCompletionLength, grpo.Temperature,
                grpo.Samplers, minVersion, seedIndex: attempt * grpo.Samplers);
            var scores = await Run.ScoreTermsAsync(merged);
            var (rewards, terms) = (scores.Scores, TermsOf(scores));
            if (!grpo.DynamicSampling) return new ScoredRollouts(merged, rewards, 0, terms);

            // GrpoLoop's rules as row numbers, applied to the record itself: it stays the one the learner receives.
            var rows = GrpoPlan.RowsWithSignal(rewards, merged.GroupSize);
            var withSignal = merged.Select(rows);
            filtered += merged.Groups - withSignal.Groups;
            keptGroups += withSignal.Groups;
            kept.Add(withSignal);
            keptRewards.AddRange(GrpoPlan.Pick(rewards, rows));
            if (!terms.IsDefault) keptTerms.AddRange(rows.Select(r => terms.Select(t => t[r]).ToArray()));
        }
        var all = RolloutBatchMessage.Concat(kept);
        var first = GrpoPlan.FirstGroupRows(all.Count, all.GroupSize, grpo.PromptsPerStep);
        var firstTerms = keptTerms.Count == 0 ? default
            : Enumerable.Range(0, keptTerms[0].Length).Select(k => first.Select(r => keptTerms[r][k]).ToImmutableArray()).ToImmutableArray();
        return new ScoredRollouts(all.Select(first), [.. GrpoPlan.Pick(keptRewards, first)], filtered, firstTerms);
    }

    /// <summary>The reward terms' scores [K][B] in the config's order, when the learner normalises each term
    /// (normalize_then_sum; the section makes the terms' names distinct); default otherwise.</summary>
    ImmutableArray<ImmutableArray<double>> TermsOf(RewardScores scores)
    {
        if (Run.Config.Grpo.MultiObjectiveAggregation != MultiObjectiveAggregationType.NormalizeThenSum) return default;
        return [.. GrpoSpecs.Reward(Run.Config).Components.Select(term => scores.Components.TryGetValue(term.Name, out var values)
            ? values
            : throw new InvalidOperationException($"the reward grain returned no scores for the term '{term.Name}'"))];
    }

    /// <summary>SHA-256(previous digest ‖ the step's prompts, one per group, newline-separated).</summary>
    static string ChainPrompts(string previous, RolloutBatchMessage rollouts)
    {
        var prompts = Enumerable.Range(0, rollouts.GroupSize > 0 ? rollouts.Count / rollouts.GroupSize : 0)
            .Select(g => rollouts.Prompts[g * rollouts.GroupSize]);
        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(previous + "\n" + string.Join("\n", prompts))));
    }

    void RecordStep(ScoredRollouts scored, GrpoStepResult result, double seconds)
    {
        var record = Run.Record;
        var stats = record.Status.Grpo ?? new GrpoStats();
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
            PromptsSha256 = _promptsSha256,
        };
        if (!result.Dropped)
        {
            record.PublishedStep = result.Step;
            var figures = RolloutFigures.Of(scored.Rollouts, scored.Rewards);
            figures[MetricNames.Loss] = result.Loss;
            figures[MetricNames.LearningRate] = Run.Config.Grpo.LearningRate;
            figures[MetricNames.GradNorm] = result.GradNorm;
            figures[MetricNames.ClipFraction] = result.ClipFraction;
            figures[MetricNames.SyncBytes] = result.PublishedBytes;
            figures[MetricNames.TokensPerSecond] = result.Seconds > 0 ? result.CompletionTokens / result.Seconds : double.NaN;
            if (result.MeanKl is { } kl) figures[MetricNames.Kl] = kl;
            foreach (var (name, value) in result.Logged) figures[name] = value;
            Run.Metrics.Update(result.Step, figures, new Dictionary<string, double>
            {
                [MetricNames.StaleRollouts] = stats.StaleRollouts,
                [MetricNames.DroppedRollouts] = stats.DroppedRollouts,
                [MetricNames.CorrectedRollouts] = stats.CorrectedRollouts,
            }, force: _trained == Run.Config.Grpo.Steps);
        }
        Run.SetStatus(s => s with
        {
            Grpo = stats,
            Step = result.Dropped ? s.Step : result.Step,
            PolicyVersion = result.PolicyVersion,
            LastLoss = result.Dropped ? s.LastLoss : result.Loss,
            LearningRate = Run.Config.Grpo.LearningRate,
        });
    }
}

using RlhfActors.Training.Metrics;
using RlhfActors.Abstractions.Config;
using System.Collections.Immutable;
using System.Diagnostics;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Sft;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// Judged rounds of DPO, one round per tick — RLAIF (<c>algorithm: rlaif</c>) and online DPO
/// (<c>algorithm: online_dpo</c>) are this one loop with two shapes (<see cref="RoundShape"/>):
/// 1. the samplers draw candidates per prompt from the newest policy (RLAIF: <c>num_candidates</c>; online DPO: 2);
/// 2. <c>JudgeGrain</c> ranks each prompt's candidates and pairs the best with the worst;
/// 3. DPO on the round's pairs (<see cref="DpoUpdates"/>): RLAIF <c>steps_per_round</c> updates of <c>dpo.batch_size</c>
///    pairs, against the round's starting policy (refresh_reference) or the SFT policy; online DPO one update on all
///    the step's pairs, against the policy the stage started from (TRL's ref_model);
/// 4. RLAIF evaluates the held-out set after every round (the verifier measures, it never labels unless it is the
///    judge) and checkpoints there; online DPO, a step per round, evaluates and checkpoints on eval.every and
///    checkpoint.every, as the other step-wise stages.
/// The judge's agreement with the verifier on its own pairs is reported beside, after the fact, as a gauge of how
/// imperfect the AI judge is.
/// When the judge's endpoint stays down the round is not lost: the run pauses with the judge's message, the judge
/// keeps the round's prompts and verdicts, and <c>rlhf resume</c> retries the round.
/// Resume: the learner's checkpoint holds the policy and the DPO optimizer, the stage's state the rounds done, the
/// prompt plan's position at the next round's start, the latest update, the running tally, and the reference's
/// frozen version with the checkpoint holding its weights. A reward-model judge is read back from
/// <c>output_dir/reward_model</c>.
/// </summary>
public sealed class RlaifStage(RunContext run, bool online = false) : ExperimentStage(run)
{
    readonly DpoUpdates _updates = new(run);
    GrpoPlan? _plan;
    int _round;
    IAnswerVerifier? _verifier;
    ImmutableArray<CandidateGroup> _roundGroups = [];
    // The plan's position when the running round drew its prompts: a round interrupted mid-way is redone whole.
    (int Epoch, int Cursor) _roundStart;
    // Every round's pairs so far, for the stage's summary (online DPO has no per-round records).
    PairTally _tally = new();
    // Held-out accuracy when the stage started (the warm-up's last evaluation), for online DPO's before → after.
    double _accuracyBefore = double.NaN;

    /// <summary>What <see cref="SaveState"/> writes.</summary>
    sealed record State(int Round, int Epoch, int Cursor, ImmutableArray<RlaifRoundSummary> Rounds, DpoStepResult? Last,
        long ReferenceVersion, string ReferenceCheckpoint, PairTally? Tally = null, double AccuracyBefore = double.NaN);

    /// <summary>The rounds' sizes, from the section of the algorithm that runs.</summary>
    sealed record RoundShape(int Rounds, int Prompts, int Candidates, int MaxNewTokens, double Temperature, int Samplers, bool RefreshReference);

    RoundShape Shape
    {
        get
        {
            var (o, r) = (Run.Config.OnlineDpo, Run.Config.Rlaif);
            // Online DPO: TRL's two generations per prompt, and its ref_model, the policy at the start, for every step.
            return online
                ? new(o.Steps, o.PromptsPerStep, 2, o.MaxNewTokens, o.Temperature, o.Samplers, RefreshReference: false)
                : new(r.Rounds, r.PromptsPerRound, r.NumCandidates, r.MaxCompletionLength, r.Temperature, r.Samplers, r.RefreshReference);
        }
    }

    public override string Name => online ? "online_dpo" : "rlaif";

    public override string? CannotResume(Abstractions.Config.ExperimentConfig config) => null;

    public override IEnumerable<string> PinnedCheckpoints => _updates.PinnedCheckpoints;

    public override string SaveState()
    {
        var (epoch, cursor) = _roundGroups.IsDefaultOrEmpty ? _plan!.Position : _roundStart;
        return ControllerCursor.Serialize(new State(_round, epoch, cursor, [.. Run.Record.Rounds], _updates.Last,
            _updates.Reference.Version, _updates.Reference.Checkpoint, _tally, _accuracyBefore));
    }

    public override async Task RestoreAsync(string json)
    {
        var state = ControllerCursor.Deserialize<State>(json, Name);
        var config = Run.Config;
        if (config.Judge.Type == Abstractions.Config.JudgeType.RewardModel)
            await Run.Reward.RestoreTrained(new RewardModelInit { Model = Run.Record.SamplerInit!, Version = -1 }, OutputDirectory.RewardModel(config.OutputDir));
        await SetUpAsync();
        await _updates.RestoreAsync((state.ReferenceVersion, state.ReferenceCheckpoint), state.Last);
        _plan!.Rewind((state.Epoch, state.Cursor));
        (_round, _roundGroups, _tally, _accuracyBefore) = (state.Round, [], state.Tally ?? new(), state.AccuracyBefore);
        Run.Record.Rounds = [.. state.Rounds];
        Run.SetStatus(s => s with { Rounds = state.Rounds });
    }

    /// <summary>Judge, samplers, the prompt plan and the verifier; idempotent, so a resume re-runs it and only lost
    /// grains are rebuilt.</summary>
    async Task SetUpAsync()
    {
        var config = Run.Config;
        await Run.Judge.Initialize(new JudgeInit { Model = Run.Record.SamplerInit! });
        await Task.WhenAll(Enumerable.Range(0, Shape.Samplers).Select(i => Run.SamplerAt(i).Initialize(Run.Record.SamplerInit!)));
        var data = ExperimentData.Load(ExperimentSpecs.Data(config));
        _plan = new GrpoPlan(data.Train, config.Seed);
        _verifier = data.Verifier;
    }

    public override async Task StartAsync()
    {
        var config = Run.Config;
        Run.BeginStage(Name, $"starting {Name}");
        await SetUpAsync();
        await _updates.StartAsync();
        (_round, _roundGroups, _tally) = (0, [], new());
        _accuracyBefore = Run.Record.Evals is [.., var latest] ? latest.Accuracy : double.NaN;
        Run.Logger.RlaifStarted(Run.ExperimentId, Name, config.Judge.Type.Yaml(), Shape.Rounds);
    }

    public override async Task<bool> StepAsync()
    {
        var config = Run.Config;
        var shape = Shape;
        var clock = Stopwatch.StartNew();
        int round = _round + 1;
        var version = await Run.PublishAsync();

        // 1. Candidates (kept across a judge outage: the resumed round judges the same ones).
        if (_roundGroups.IsDefaultOrEmpty)
        {
            Run.SetStatus(s => s with { Phase = $"round {round}: sampling" });
            _roundStart = _plan!.Position;
            var rollouts = await Run.SampleAsync(_plan!, _round, shape.Prompts, shape.Candidates, shape.MaxNewTokens, shape.Temperature, shape.Samplers);
            Run.Traces.Write(Name, Run.Record.Status.Step, rollouts, rewards: default, reference: default);
            _roundGroups = Groups(rollouts);
        }

        // 2. The judge's pairs.
        Run.SetStatus(s => s with { Phase = $"round {round}: judging" });
        var ranked = await Run.Judge.Rank(_roundGroups);
        if (ranked.Unavailable is { } why)
        {
            Run.Pause($"round {round}: judge unavailable", $"judge unavailable ({ranked.PendingPrompts} prompts pending; resume to retry the round): {why}");
            Run.Logger.JudgeUnavailable(Run.ExperimentId, round, ranked.PendingPrompts);
            return false;
        }
        var references = _roundGroups.DistinctBy(g => g.Prompt).ToImmutableDictionary(g => g.Prompt, g => g.Reference);
        _roundGroups = [];
        var pairs = ranked.Pairs;

        // 3. DPO on the round's pairs.
        Run.SetStatus(s => s with { Phase = $"round {round}: dpo", Error = null });
        if (shape.RefreshReference && round > 1 && _updates.NeedsReference)
            await Run.Reference.Initialize(new ReferenceInit { Model = Run.Record.SamplerInit!, Version = version });
        DpoStepResult? last = null;
        foreach (var batch in Batches(pairs, round)) last = await _updates.StepAsync(batch);

        var tally = MeasureJudge(pairs, references) with
        {
            Rounds = 1, Pairs = pairs.Length, Skipped = ranked.Skipped, Uncertain = ranked.Uncertain, RoundsWithoutPairs = pairs.Length == 0 ? 1 : 0,
        };
        _tally = _tally.Add(tally);
        _round = round;
        var figures = new Dictionary<string, double> { [$"{Name}/pairs"] = pairs.Length };
        if (tally.Agreement is { } agreement) figures[MetricNames.JudgeAgreement] = agreement;
        Run.Metrics.CloseWindow(Run.Record.Status.Step);
        Run.Metrics.At(Run.Record.Status.Step, figures);
        return online
            ? await EndStepAsync(round, shape, tally, last)
            : await EndRoundAsync(round, shape, ranked, tally, last, clock);
    }

    /// <summary>A prompt's candidates are consecutive rows of the batch (its group).</summary>
    static ImmutableArray<CandidateGroup> Groups(RolloutBatchMessage rollouts) =>
        [.. Enumerable.Range(0, rollouts.Count / rollouts.GroupSize).Select(g => new CandidateGroup(
            rollouts.Prompts[g * rollouts.GroupSize],
            [.. rollouts.CompletionTexts.Skip(g * rollouts.GroupSize).Take(rollouts.GroupSize)])
        {
            Reference = rollouts.References[g * rollouts.GroupSize],
            Truncated = rollouts.Truncated.IsDefaultOrEmpty ? default : [.. rollouts.Truncated.Skip(g * rollouts.GroupSize).Take(rollouts.GroupSize)],
        })];

    /// <summary>The round's updates: online DPO one on every pair of the step (TRL: the step's batch, whatever the
    /// judge made of it); RLAIF <c>steps_per_round</c> of <c>dpo.batch_size</c> pairs in shuffled epochs. No pairs,
    /// no update.</summary>
    IEnumerable<ImmutableArray<PreferencePairItem>> Batches(ImmutableArray<PreferencePairItem> pairs, int round)
    {
        if (pairs.Length == 0) yield break;
        if (online)
        {
            yield return pairs;
            yield break;
        }
        var order = new EpochSampler<PreferencePairItem>(pairs, Training.Tasks.StableSeed.Derive(Run.Config.Seed, round));
        for (int i = 0; i < Run.Config.Rlaif.StepsPerRound; i++) yield return [.. order.Next(Math.Min(Run.Config.Dpo.BatchSize, pairs.Length))];
    }

    /// <summary>RLAIF: the held-out set after every round, its record, a checkpoint per round.</summary>
    async Task<bool> EndRoundAsync(int round, RoundShape shape, RankResult ranked, PairTally tally, DpoStepResult? last, Stopwatch clock)
    {
        var config = Run.Config;
        var eval = await Run.EvaluateAsync();
        var records = Run.Record;
        var summary = new RlaifRoundSummary
        {
            Round = round,
            Pairs = tally.Pairs,
            Skipped = ranked.Skipped,
            Uncertain = ranked.Uncertain,
            OrderDisagreements = ranked.OrderDisagreements,
            JudgeAgreement = tally.Agreement,
            ChosenCorrect = tally.ChosenCorrect,
            Loss = last?.Loss ?? double.NaN,
            Margin = last?.Margin ?? double.NaN,
            AccuracyAfter = eval.Accuracy,
            Seconds = clock.Elapsed.TotalSeconds,
        };
        records.Rounds.Add(summary);
        Run.SetStatus(s => s with { Rounds = [.. records.Rounds], Phase = "training" });
        Run.Logger.Round(Run.ExperimentId, round, tally.Pairs, summary.JudgeAgreement ?? double.NaN, eval.Accuracy);

        if (round < shape.Rounds)
        {
            // A round is the unit a resume continues from.
            if (config.Checkpoint.Every > 0) await Run.CheckpointAsync();
            return false;
        }
        Run.EndStage(Summary(eval.Accuracy, new()
        {
            ["rounds"] = round,
            ["eval/accuracy_first_round"] = records.Rounds[0].AccuracyAfter,
            ["judge/agreement"] = records.Rounds.Where(r => r.JudgeAgreement is not null).Select(r => r.JudgeAgreement!.Value).DefaultIfEmpty(double.NaN).Average(),
        }));
        return true;
    }

    /// <summary>Online DPO: a step like any other step-wise stage's, evaluated and checkpointed on the config's
    /// boundaries; the stage's summary after the last.</summary>
    async Task<bool> EndStepAsync(int round, RoundShape shape, PairTally tally, DpoStepResult? last)
    {
        Run.Logger.OnlineDpoStep(Run.ExperimentId, round, tally.Pairs, shape.Prompts, tally.Skipped, last?.Loss ?? double.NaN);
        if (round < shape.Rounds)
        {
            await Run.AtBoundaryAsync(round);
            return false;
        }
        var eval = await Run.EvaluateAsync();
        var metrics = new Dictionary<string, double>
        {
            ["steps"] = round,
            ["eval/accuracy_before"] = _accuracyBefore,
            ["ties"] = _tally.Skipped,
            ["steps_without_pairs"] = _tally.RoundsWithoutPairs,
            ["judge/agreement"] = _tally.Agreement ?? double.NaN,
            ["judge/chosen_correct"] = _tally.ChosenCorrect ?? double.NaN,
        };
        _updates.AddLastFigures(metrics);
        Run.EndStage(Summary(eval.Accuracy, metrics));
        return true;
    }

    ImmutableSortedDictionary<string, double> Summary(double accuracy, Dictionary<string, double> metrics)
    {
        metrics["pairs"] = _tally.Pairs;
        metrics["eval/accuracy"] = accuracy;
        return metrics.ToImmutableSortedDictionary(StringComparer.Ordinal);
    }

    /// <summary>The judge's pairs measured by the verifier after the round, for the report only: of the pairs where
    /// exactly one side is right, the share where the judge chose that one (agreement); and of all pairs, the share
    /// whose chosen answer is right (the rest teach a wrong answer as "better", whatever the judge's agreement).</summary>
    PairTally MeasureJudge(ImmutableArray<PreferencePairItem> pairs, ImmutableDictionary<string, string?> references)
    {
        int verified = 0, right = 0, decisive = 0, agreed = 0;
        foreach (var pair in pairs)
        {
            if (!references.TryGetValue(pair.Prompt, out var reference) || reference is null) continue;
            var example = new PromptCompletion(pair.Prompt, reference);
            bool chosen = _verifier!.IsCorrect(example, pair.Chosen), rejected = _verifier.IsCorrect(example, pair.Rejected);
            verified++;
            if (chosen) right++;
            if (chosen == rejected) continue;
            decisive++;
            if (chosen) agreed++;
        }
        return new PairTally { Verified = verified, Right = right, Decisive = decisive, Agreed = agreed };
    }
}

/// <summary>Counts of judged rounds' pairs (one round's, or a stage's sum), and the verifier's view of them.</summary>
public sealed record PairTally
{
    public int Rounds { get; init; }
    public int Pairs { get; init; }
    /// <summary>Prompts with no pair: identical candidates, or a tie (the verifier's equal verdicts).</summary>
    public int Skipped { get; init; }
    public int Uncertain { get; init; }
    public int RoundsWithoutPairs { get; init; }
    public int Verified { get; init; }
    public int Right { get; init; }
    public int Decisive { get; init; }
    public int Agreed { get; init; }

    public double? Agreement => Decisive == 0 ? null : (double)Agreed / Decisive;
    public double? ChosenCorrect => Verified == 0 ? null : (double)Right / Verified;

    public PairTally Add(PairTally other) => new()
    {
        Rounds = Rounds + other.Rounds,
        Pairs = Pairs + other.Pairs,
        Skipped = Skipped + other.Skipped,
        Uncertain = Uncertain + other.Uncertain,
        RoundsWithoutPairs = RoundsWithoutPairs + other.RoundsWithoutPairs,
        Verified = Verified + other.Verified,
        Right = Right + other.Right,
        Decisive = Decisive + other.Decisive,
        Agreed = Agreed + other.Agreed,
    };
}

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
/// RLAIF as iterative online DPO, one round per tick:
/// 1. the samplers draw <c>num_candidates</c> completions per prompt from the newest policy;
/// 2. <c>JudgeGrain</c> ranks each prompt's candidates and pairs the best with the worst;
/// 3. (refresh_reference) the reference freezes the round's starting policy; <c>steps_per_round</c> DPO updates train
///    on the round's pairs;
/// 4. the held-out set is evaluated — the verifier measures, it never labels: no ground truth enters steps 1–3.
/// The judge's agreement with the verifier on its own pairs is reported beside, after the fact, as a gauge of how
/// imperfect the AI judge is.
/// When the judge's endpoint stays down the round is not lost: the run pauses with the judge's message, the judge
/// keeps the round's prompts and verdicts, and <c>rlhf resume</c> retries the round.
/// Resume: the run is checkpointed after every round (unless <c>checkpoint.every</c> is 0), the unit it resumes at;
/// the learner's checkpoint holds the policy and the DPO optimizer, the stage's state the rounds done, the prompt
/// plan's position at the next round's start, the latest update, and the reference's frozen version with the
/// checkpoint holding its weights. A reward-model judge is read back from <c>output_dir/reward_model</c>.
/// </summary>
public sealed class RlaifStage(RunContext run) : ExperimentStage(run)
{
    readonly DpoUpdates _updates = new(run);
    GrpoPlan? _plan;
    int _round;
    IAnswerVerifier? _verifier;
    ImmutableArray<CandidateGroup> _roundGroups = [];
    ImmutableDictionary<string, string?> _roundReferences = ImmutableDictionary<string, string?>.Empty;
    // The plan's position when the running round drew its prompts: a round interrupted mid-way is redone whole.
    (int Epoch, int Cursor) _roundStart;

    /// <summary>What <see cref="SaveState"/> writes.</summary>
    sealed record State(int Round, int Epoch, int Cursor, ImmutableArray<RlaifRoundSummary> Rounds, DpoStepResult? Last,
        long ReferenceVersion, string ReferenceCheckpoint);

    public override string Name => "rlaif";

    public override string? CannotResume(Abstractions.Config.ExperimentConfig config) => null;

    public override IEnumerable<string> PinnedCheckpoints => _updates.PinnedCheckpoints;

    public override string SaveState()
    {
        var (epoch, cursor) = _roundGroups.IsDefaultOrEmpty ? _plan!.Position : _roundStart;
        return ControllerCursor.Serialize(new State(_round, epoch, cursor, [.. Run.Record.Rounds], _updates.Last,
            _updates.Reference.Version, _updates.Reference.Checkpoint));
    }

    public override async Task RestoreAsync(string json)
    {
        var state = ControllerCursor.Deserialize<State>(json, Name);
        var config = Run.Config;
        if (config.Rlaif.Judge.Type == Abstractions.Config.JudgeType.RewardModel)
            await Run.Reward.RestoreTrained(new RewardModelInit { Model = Run.Record.SamplerInit!, Version = -1 }, OutputDirectory.RewardModel(config.OutputDir));
        await SetUpAsync();
        await _updates.RestoreAsync((state.ReferenceVersion, state.ReferenceCheckpoint), state.Last);
        _plan!.Rewind((state.Epoch, state.Cursor));
        (_round, _roundGroups) = (state.Round, []);
        Run.Record.Rounds = [.. state.Rounds];
        Run.SetStatus(s => s with { Rounds = state.Rounds });
    }

    /// <summary>Judge, samplers, the prompt plan and the verifier; idempotent, so a resume re-runs it and only lost
    /// grains are rebuilt.</summary>
    async Task SetUpAsync()
    {
        var config = Run.Config;
        await Run.Judge.Initialize(new JudgeInit { Model = Run.Record.SamplerInit! });
        await Task.WhenAll(Enumerable.Range(0, config.Rlaif.Samplers).Select(i => Run.SamplerAt(i).Initialize(Run.Record.SamplerInit!)));
        var data = ExperimentData.Load(ExperimentSpecs.Data(config));
        _plan = new GrpoPlan(data.Train, config.Seed);
        _verifier = data.Verifier;
    }

    public override async Task StartAsync()
    {
        var config = Run.Config;
        Run.BeginStage(Name, "starting rlaif");
        await SetUpAsync();
        await _updates.StartAsync();
        (_round, _roundGroups) = (0, []);
        Run.Logger.RlaifStarted(Run.ExperimentId, config.Rlaif.Judge.Type.Yaml(), config.Rlaif.Rounds);
    }

    public override async Task<bool> StepAsync()
    {
        var config = Run.Config;
        var rlaif = config.Rlaif;
        var clock = Stopwatch.StartNew();
        int round = _round + 1;
        var version = await Run.PublishAsync();

        // 1. Candidates (kept across a judge outage: the resumed round judges the same ones).
        if (_roundGroups.IsDefaultOrEmpty)
        {
            Run.SetStatus(s => s with { Phase = $"round {round}: sampling" });
            _roundStart = _plan!.Position;
            var rollouts = await Run.SampleAsync(_plan!, _round, rlaif.PromptsPerRound, rlaif.NumCandidates, rlaif.MaxCompletionLength, rlaif.Temperature, rlaif.Samplers);
            Run.Traces.Write(Name, Run.Record.Status.Step, rollouts, rewards: default, reference: default);
            _roundGroups = [.. Enumerable.Range(0, rollouts.Count / rollouts.GroupSize).Select(g => new CandidateGroup(
                rollouts.Prompts[g * rollouts.GroupSize],
                [.. rollouts.CompletionTexts.Skip(g * rollouts.GroupSize).Take(rollouts.GroupSize)]))];
            _roundReferences = Enumerable.Range(0, rollouts.Count).Select(i => (rollouts.Prompts[i], rollouts.References[i]))
                .DistinctBy(p => p.Item1).ToImmutableDictionary(p => p.Item1, p => p.Item2);
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
        _roundGroups = [];
        var pairs = ranked.Pairs;

        // 3. DPO on the round's pairs, against the round's starting policy.
        Run.SetStatus(s => s with { Phase = $"round {round}: dpo", Error = null });
        if (rlaif.RefreshReference && round > 1 && _updates.NeedsReference)
            await Run.Reference.Initialize(new ReferenceInit { Model = Run.Record.SamplerInit!, Version = version });
        DpoStepResult? last = null;
        if (pairs.Length > 0)
        {
            var order = new EpochSampler<PreferencePairItem>(pairs, Training.Tasks.StableSeed.Derive(config.Seed, round));
            for (int i = 0; i < rlaif.StepsPerRound; i++) last = await _updates.StepAsync([.. order.Next(Math.Min(config.Dpo.BatchSize, pairs.Length))]);
        }

        // 4. The verifier measures the new policy on held-out prompts.
        var eval = await Run.EvaluateAsync();
        var measured = MeasureJudge(pairs);
        _round = round;
        var records = Run.Record;
        var summary = new RlaifRoundSummary
        {
            Round = round,
            Pairs = pairs.Length,
            Skipped = ranked.Skipped,
            Uncertain = ranked.Uncertain,
            OrderDisagreements = ranked.OrderDisagreements,
            JudgeAgreement = measured.Agreement,
            ChosenCorrect = measured.ChosenCorrect,
            Loss = last?.Loss ?? double.NaN,
            Margin = last?.Margin ?? double.NaN,
            AccuracyAfter = eval.Accuracy,
            Seconds = clock.Elapsed.TotalSeconds,
        };
        records.Rounds.Add(summary);
        Run.SetStatus(s => s with { Rounds = [.. records.Rounds], Phase = "training" });
        var roundFigures = new Dictionary<string, double> { ["rlaif/pairs"] = pairs.Length };
        if (measured.Agreement is { } agreement) roundFigures[MetricNames.JudgeAgreement] = agreement;
        Run.Metrics.CloseWindow(Run.Record.Status.Step);
        Run.Metrics.At(Run.Record.Status.Step, roundFigures);
        Run.Logger.Round(Run.ExperimentId, round, pairs.Length, summary.JudgeAgreement ?? double.NaN, eval.Accuracy);

        if (round < rlaif.Rounds)
        {
            // A round is the unit a resume continues from.
            if (config.Checkpoint.Every > 0) await Run.CheckpointAsync();
            return false;
        }
        Run.EndStage(ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, double>
        {
            ["rounds"] = round,
            ["pairs"] = records.Rounds.Sum(r => r.Pairs),
            ["eval/accuracy_first_round"] = records.Rounds[0].AccuracyAfter,
            ["eval/accuracy"] = eval.Accuracy,
            ["judge/agreement"] = records.Rounds.Where(r => r.JudgeAgreement is not null).Select(r => r.JudgeAgreement!.Value).DefaultIfEmpty(double.NaN).Average(),
        }));
        return true;
    }

    /// <summary>The judge's pairs measured by the verifier after the round, for the report only: of the pairs where
    /// exactly one side is right, the share where the judge chose that one (agreement); and of all pairs, the share
    /// whose chosen answer is right (the rest teach a wrong answer as "better", whatever the judge's agreement).</summary>
    (double? Agreement, double? ChosenCorrect) MeasureJudge(ImmutableArray<PreferencePairItem> pairs)
    {
        int verified = 0, right = 0, decisive = 0, agreed = 0;
        foreach (var pair in pairs)
        {
            if (!_roundReferences.TryGetValue(pair.Prompt, out var reference) || reference is null) continue;
            var example = new PromptCompletion(pair.Prompt, reference);
            bool chosen = _verifier!.IsCorrect(example, pair.Chosen), rejected = _verifier.IsCorrect(example, pair.Rejected);
            verified++;
            if (chosen) right++;
            if (chosen == rejected) continue;
            decisive++;
            if (chosen) agreed++;
        }
        return (decisive == 0 ? null : (double)agreed / decisive, verified == 0 ? null : (double)right / verified);
    }
}

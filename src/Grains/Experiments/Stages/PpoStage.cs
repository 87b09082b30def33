using System.Collections.Immutable;
using System.Diagnostics;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;
using RlhfActors.Training.Metrics;
using RlhfActors.Training.Rl;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// The PPO stage (classic RLHF, after the SFT and reward-model stages), one update per tick:
/// 1. samplers generate completions with the newest policy version;
/// 2. <c>RewardModelGrain</c> scores them with the trained reward model (and any verifiable reward beside it);
/// 3. <c>CriticGrain</c> gives V(s_t) per token; <c>ReferenceGrain</c> gives the reference log-probs (kl_coef &gt; 0);
/// 4. the learner computes GAE and runs the clipped policy update, publishes, and returns the returns;
/// 5. the critic regresses on those returns with the clipped value loss.
/// Resume: the learner's checkpoint holds the policy and its PPO optimizer; the critic writes its own verified
/// checkpoint (<c>critic-&lt;step&gt;</c>: weights, optimizer, step count) just before; the trained reward model is
/// read back from <c>output_dir/reward_model</c>; the stage's state is the prompt plan's position, the steps trained,
/// the latest figures, the critic's checkpoint and the reference's frozen version with the checkpoint holding it.
/// </summary>
public sealed class PpoStage(RunContext run) : ExperimentStage(run)
{
    GrpoPlan? _plan;
    int _trained;
    double _score, _kl, _explainedVariance, _valueLoss;
    (long Version, string Checkpoint) _reference = (-1, "");
    string _criticCheckpoint = "";

    /// <summary>What <see cref="SaveState"/> writes.</summary>
    sealed record State(int Trained, int Epoch, int Cursor, double Score, double Kl, double ExplainedVariance, double ValueLoss,
        long ReferenceVersion, string ReferenceCheckpoint, string CriticCheckpoint);

    public override string Name => "ppo";

    public override string? CannotResume(Abstractions.Config.ExperimentConfig config) => null;

    public override IEnumerable<string> PinnedCheckpoints =>
        Run.Config.Ppo.KlCoef > 0 && _reference.Checkpoint.Length > 0 ? [_reference.Checkpoint] : [];

    public override string SaveState() => ControllerCursor.Serialize(new State(_trained, _plan!.Position.Epoch, _plan.Position.Cursor,
        _score, _kl, _explainedVariance, _valueLoss, _reference.Version, _reference.Checkpoint, _criticCheckpoint));

    public override async Task BeforeCheckpointAsync(int step) =>
        _criticCheckpoint = await Run.Critic.SaveCheckpoint(OutputDirectory.Critic(Run.Config.OutputDir, step), step);

    /// <summary>The critic trains once per PPO step: it is at a state when its step count is that state's.</summary>
    public override async Task<bool> WorkersAtRecordedStateAsync(string json) =>
        await Run.Critic.GetStepsDone() == ControllerCursor.Deserialize<State>(json, Name).Trained;

    public override async Task RestoreAsync(string json)
    {
        var state = ControllerCursor.Deserialize<State>(json, Name);
        var config = Run.Config;
        var version = await Run.PublishAsync();
        var init = Run.Record.SamplerInit!;
        await Run.Reward.RestoreTrained(new RewardModelInit { Model = init, Version = -1 }, OutputDirectory.RewardModel(config.OutputDir));
        _reference = (state.ReferenceVersion, state.ReferenceCheckpoint);
        _criticCheckpoint = state.CriticCheckpoint;
        // Kept when it is at the state restored (the record's, or a surviving critic at the checkpoint's step), else
        // rebuilt from the checkpoint's critic.
        var critic = await WorkersAtRecordedStateAsync(json)
            ? Task.CompletedTask
            : Run.Critic.RestoreFrom(new CriticInit { Model = init, Version = version }, _criticCheckpoint);
        await Task.WhenAll([.. SetUpRoles(init), critic]);
        _plan!.Rewind((state.Epoch, state.Cursor));
        _trained = state.Trained;
        (_score, _kl, _explainedVariance, _valueLoss) = (state.Score, state.Kl, state.ExplainedVariance, state.ValueLoss);
    }

    /// <summary>Reward, samplers, (kl_coef &gt; 0) the frozen reference and the prompt plan; idempotent.</summary>
    List<Task> SetUpRoles(Abstractions.Sampling.SamplerInit init)
    {
        var config = Run.Config;
        _plan = new GrpoPlan(ExperimentData.Load(ExperimentSpecs.Data(config)).Train, config.Seed);
        var setup = new List<Task> { Run.Reward.Initialize(config) };
        setup.AddRange(Enumerable.Range(0, config.Ppo.Samplers).Select(i => Run.SamplerAt(i).Initialize(init)));
        if (config.Ppo.KlCoef > 0)
            setup.Add(Run.Reference.Initialize(new ReferenceInit { Model = init, Version = _reference.Version, Checkpoint = _reference.Checkpoint }));
        return setup;
    }

    public override async Task StartAsync()
    {
        var config = Run.Config;
        Run.BeginStage(Name, "starting ppo");
        var start = await Run.Learner.StartPpo();
        Run.Record.PublishedStep = start.Step;
        Run.SetStatus(s => s with { PolicyVersion = start.Version });
        var init = Run.Record.SamplerInit!;
        // The reference is the policy the stage starts from: the stage-boundary checkpoint just written holds it.
        (_reference, _criticCheckpoint) = ((start.Version, Run.Record.Status.CheckpointPath ?? ""), "");
        await Task.WhenAll([.. SetUpRoles(init), Run.Critic.Initialize(new CriticInit { Model = init, Version = start.Version })]);
        _trained = 0;
        Run.Logger.PpoStarted(Run.ExperimentId, start.Version, config.Ppo.Samplers);
    }

    public override async Task<bool> StepAsync()
    {
        var ppo = Run.Config.Ppo;
        var clock = Stopwatch.StartNew();
        Run.SetStatus(s => s with { Phase = "training" });

        var position = _plan!.Position;
        var rollouts = await Run.SampleAsync(_plan, _trained, ppo.PromptsPerStep, ppo.NumGenerations, ppo.MaxCompletionLength, ppo.Temperature, ppo.Samplers);
        ImmutableArray<double> scores;
        try
        {
            scores = await Run.ScoreAsync(rollouts);
        }
        catch (RewardOutageException e)
        {
            // Retried whole on resume, from the same prompts.
            _plan.Rewind(position);
            Run.PauseForOutage($"ppo step {_trained + 1}", e.Message);
            return false;
        }
        var valuesTask = Run.Critic.Values(rollouts);
        var referenceTask = ppo.KlCoef > 0 ? Run.Reference.LogProbs(rollouts, ppo.Temperature) : Task.FromResult<ImmutableArray<float[]>>(default);
        var values = await valuesTask;
        var reference = await referenceTask;
        var result = await Run.Learner.PpoStep(new PpoStepRequest
        {
            Rollouts = rollouts,
            Scores = scores,
            OldValues = values,
            ReferenceLogProbs = reference,
            LearningRate = ppo.LearningRate,
        });
        var critic = await Run.Critic.Train(new CriticTrainRequest
        {
            Rollouts = rollouts,
            Returns = result.Returns,
            OldValues = values,
            LearningRate = ppo.CriticLearningRate,
        });
        _trained++;
        Run.Record.TrainSeconds += clock.Elapsed.TotalSeconds;
        Run.Record.PublishedStep = result.Step;
        (_score, _kl, _explainedVariance, _valueLoss) = (result.MeanScore, result.MeanKl, critic.ExplainedVariance, critic.ValueLoss);
        Run.SetStatus(s => s with { Step = result.Step, PolicyVersion = result.PolicyVersion, LastLoss = result.Loss, LearningRate = ppo.LearningRate });
        var figures = RolloutFigures.Of(rollouts, scores);
        figures[MetricNames.Loss] = result.Loss;
        figures[MetricNames.LearningRate] = ppo.LearningRate;
        figures[MetricNames.GradNorm] = result.GradNorm;
        figures[MetricNames.Kl] = result.MeanKl;
        figures[MetricNames.ClipFraction] = result.ClipFraction;
        figures[MetricNames.ValueLoss] = critic.ValueLoss;
        figures[MetricNames.ExplainedVariance] = critic.ExplainedVariance;
        figures[MetricNames.SyncBytes] = result.PublishedBytes;
        figures[MetricNames.TokensPerSecond] = result.Seconds > 0 ? result.CompletionTokens / result.Seconds : double.NaN;
        Run.Metrics.Update(result.Step, figures, force: _trained == ppo.Steps);
        Run.Traces.Write(Name, result.Step, rollouts, scores, reference);
        Run.Logger.PpoStep(Run.ExperimentId, result.Step, result.MeanScore, result.MeanKl, critic.ValueLoss, critic.ExplainedVariance);

        if (_trained < ppo.Steps)
        {
            await Run.AtBoundaryAsync(_trained);
            return false;
        }
        Run.EndStage(ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, double>
        {
            ["loss/policy"] = result.Loss,
            ["loss/value"] = _valueLoss,
            ["objective/scores"] = _score,
            ["objective/kl"] = _kl,
            ["val/explained_variance"] = _explainedVariance,
            ["policy/clipfrac"] = result.ClipFraction,
        }));
        return true;
    }
}

using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;
using RlhfActors.Training.Rl;

namespace RlhfActors.Grains.Experiments;

/// <summary>
/// The PPO stage of the controller (classic RLHF, after the SFT and reward-model stages), one update per tick:
/// 1. samplers generate completions with the newest policy version;
/// 2. <c>RewardModelGrain</c> scores them with the trained reward model (and any verifiable reward beside it);
/// 3. <c>CriticGrain</c> gives V(s_t) per token; <c>ReferenceGrain</c> gives the reference log-probs (kl_coef &gt; 0);
/// 4. the learner computes GAE and runs the clipped policy update, publishes, and returns the returns;
/// 5. the critic regresses on those returns with the clipped value loss.
/// </summary>
public sealed partial class ExperimentGrain
{
    int _ppoTrained;
    double _ppoScore, _ppoKl, _ppoExplainedVariance, _ppoValueLoss;

    async Task StartPpoAsync()
    {
        var config = Config;
        BeginStage("ppo", "starting ppo");
        var start = await Learner.StartPpo();
        Record.PublishedStep = start.Step;
        SetStatus(s => s with { PolicyVersion = start.Version });
        var init = Record.SamplerInit!;
        var setup = new List<Task>
        {
            Reward.Initialize(config),
            Critic.Initialize(new CriticInit { Model = init, Version = start.Version }),
        };
        setup.AddRange(Enumerable.Range(0, config.Ppo.Samplers).Select(i => SamplerAt(i).Initialize(init)));
        if (config.Ppo.KlCoef > 0) setup.Add(Reference.Initialize(new ReferenceInit { Model = init, Version = start.Version }));
        await Task.WhenAll(setup);
        _plan = new GrpoPlan(ExperimentData.Load(ExperimentSpecs.Data(config)).Train, config.Seed);
        _ppoTrained = 0;
        _phase = Phase.PpoTrain;
        LogPpoStarted(ExperimentId, start.Version, config.Ppo.Samplers);
    }

    async Task PpoStepAsync()
    {
        var config = Config;
        var ppo = config.Ppo;
        var clock = Stopwatch.StartNew();
        SetStatus(s => s with { Phase = "training" });

        var position = _plan!.Position;
        var rollouts = await SampleAsync(_ppoTrained, ppo.PromptsPerStep, ppo.NumGenerations, ppo.MaxCompletionLength, ppo.Temperature, ppo.Samplers);
        ImmutableArray<double> scores;
        try
        {
            scores = await ScoreAsync(rollouts.ToRewardBatch());
        }
        catch (RewardOutageException e)
        {
            // Retried whole on resume, from the same prompts.
            _plan.Rewind(position);
            PauseForOutage($"ppo step {_ppoTrained + 1}", e.Message);
            return;
        }
        var valuesTask = Critic.Values(rollouts);
        var referenceTask = ppo.KlCoef > 0 ? Reference.LogProbs(rollouts, ppo.Temperature) : Task.FromResult<ImmutableArray<float[]>>(default);
        var values = await valuesTask;
        var reference = await referenceTask;
        var result = await Learner.PpoStep(new PpoStepRequest
        {
            Rollouts = rollouts,
            Scores = scores,
            OldValues = values,
            ReferenceLogProbs = reference,
            LearningRate = ppo.LearningRate,
        });
        var critic = await Critic.Train(new CriticTrainRequest
        {
            Rollouts = rollouts,
            Returns = result.Returns,
            OldValues = values,
            LearningRate = ppo.CriticLearningRate,
        });
        _ppoTrained++;
        Record.TrainSeconds += clock.Elapsed.TotalSeconds;
        Record.PublishedStep = result.Step;
        (_ppoScore, _ppoKl, _ppoExplainedVariance, _ppoValueLoss) = (result.MeanScore, result.MeanKl, critic.ExplainedVariance, critic.ValueLoss);
        SetStatus(s => s with { Step = result.Step, PolicyVersion = result.PolicyVersion, LastLoss = result.Loss, LearningRate = ppo.LearningRate });
        LogPpoStep(ExperimentId, result.Step, result.MeanScore, result.MeanKl, critic.ValueLoss, critic.ExplainedVariance);

        if (_ppoTrained >= ppo.Steps)
        {
            EndStage(ImmutableSortedDictionary.CreateRange(StringComparer.Ordinal, new Dictionary<string, double>
            {
                ["loss/policy"] = result.Loss,
                ["loss/value"] = _ppoValueLoss,
                ["objective/scores"] = _ppoScore,
                ["objective/kl"] = _ppoKl,
                ["val/explained_variance"] = _ppoExplainedVariance,
                ["policy/clipfrac"] = result.ClipFraction,
            }));
            _phase = Phase.Finish;
            return;
        }
        if (IsBoundary(_ppoTrained, config.Eval.Every)) await EvaluateAsync();
        if (IsBoundary(_ppoTrained, config.Checkpoint.Every)) await CheckpointAsync();
        SetStatus(s => s with { Phase = "training" });
    }

    /// <summary>Completions for the plan's next <paramref name="prompts"/> prompts, split over the samplers, with version
    /// <paramref name="minVersion"/> or newer (default: the newest published). Sampler i draws with seed index
    /// <paramref name="seedIndex"/> + i (GRPO's dynamic-sampling refills move it on).</summary>
    async Task<RolloutBatchMessage> SampleAsync(int step, int prompts, int perPrompt, int maxNewTokens, double temperature, int samplers,
        long? minVersion = null, int seedIndex = 0)
    {
        long version = minVersion ?? Record.Status.PolicyVersion;
        var shards = GrpoPlan.Split(_plan!.NextPrompts(prompts), samplers);
        var parts = await Task.WhenAll(shards.Select((shard, i) => SamplerAt(i).Generate(new RolloutRequest
        {
            Step = step,
            Shard = i,
            Prompts = shard.ToPromptItems(),
            GroupSize = perPrompt,
            MaxNewTokens = maxNewTokens,
            Temperature = temperature,
            Seed = _plan.ShardSeed(step, seedIndex + i),
            MinVersion = version,
        })));
        return RolloutMapping.Merge(parts);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: PPO from policy version {Version}, {Samplers} sampler(s)")]
    private partial void LogPpoStarted(string experimentId, long version, int samplers);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Experiment {ExperimentId}: PPO step {Step}: score {Score:F3}, KL {Kl:F4}, value loss {ValueLoss:F4}, explained variance {Ev:F3}")]
    private partial void LogPpoStep(string experimentId, int step, double score, double kl, double valueLoss, double ev);
}

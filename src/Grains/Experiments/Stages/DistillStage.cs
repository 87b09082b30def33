using System.Collections.Immutable;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Messaging;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Data;
using RlhfActors.Training.Distillation;
using RlhfActors.Training.Metrics;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// The distillation stage (algorithm distill), one update per tick:
/// 1. GKD's λ coin for the step (<see cref="DistillBatches.OnPolicy"/>); the step's prompts from the same
///    <see cref="GrpoPlan"/> as the in-process <see cref="DistillLoop"/>;
/// 2. on-policy, the samplers generate G completions per prompt with the newest student version; otherwise the
///    prompts' dataset completions, tokenized here;
/// 3. the teacher grain (shared by every experiment naming the same teacher weights) returns its log-probs of the
///    sampled tokens (reverse_kl) or its top-k distributions (jsd);
/// 4. the learner updates and publishes the next version, which the samplers pull before their next batch.
/// Not resumable yet (the base class says so): a lost worker ends the run "interrupted".
/// </summary>
public sealed class DistillStage(RunContext run) : ExperimentStage(run)
{
    GrpoPlan? _plan;
    ITokenizer? _tokenizer;
    string _teacherKey = "";
    int _trained, _onPolicySteps;
    long _teacherTokens;
    double _generationSeconds, _teacherSeconds, _updateSeconds;
    DistillStepResult? _last;

    public override string Name => "distill";

    public override async Task StartAsync()
    {
        var config = Run.Config;
        var d = config.Distill;
        Run.BeginStage(Name, "starting distill");
        var start = await Run.Learner.StartDistill();
        Run.Record.PublishedStep = start.Step;
        Run.SetStatus(s => s with { PolicyVersion = start.Version });
        // Hashes the teacher's files: the key is what the weights are, so experiments naming the same teacher share it.
        var (key, init) = DistillSpecs.Teacher(config);
        _teacherKey = key;
        var samplers = Enumerable.Range(0, d.Samplers).Select(i => Run.SamplerAt(i).Initialize(Run.Record.SamplerInit!));
        var attach = Run.Teacher(key).Attach(init, Run.ExperimentId);
        await Task.WhenAll([attach, .. samplers]);
        var teacher = await attach;
        if (d.Loss == DistillLossType.Jsd)
        {
            // Every step's answer is one message: rows × positions × k × (4-byte id + 4-byte log-prob).
            long k = d.TopK == 0 ? teacher.VocabSize : Math.Min(d.TopK, teacher.VocabSize);
            long bytes = (long)d.PromptsPerStep * d.NumGenerations * d.MaxNewTokens * k * 8;
            if (bytes > RlhfLimits.MaxMessageBodyBytes / 2)
                throw new InvalidOperationException($"distill.top_k: a step's top-{k} answer could reach {bytes} bytes, over half the message limit "
                    + $"({RlhfLimits.MaxMessageBodyBytes}); lower distill.top_k, prompts_per_step, num_generations or max_new_tokens");
        }
        _plan = new GrpoPlan(ExperimentData.Load(ExperimentSpecs.Data(config)).Train, config.Seed);
        _tokenizer = TokenizerFiles.Create(config.Model.ResolvedTokenizer);
        (_trained, _onPolicySteps, _teacherTokens, _last) = (0, 0, 0, null);
        (_generationSeconds, _teacherSeconds, _updateSeconds) = (0, 0, 0);
        Run.Logger.DistillStarted(Run.ExperimentId, start.Version, init.Folder, key, teacher.Experiments.Length);
    }

    public override async Task<bool> StepAsync()
    {
        var config = Run.Config;
        var d = config.Distill;
        var clock = Stopwatch.StartNew();
        Run.SetStatus(s => s with { Phase = "training" });

        int step = _trained;
        bool onPolicy = DistillBatches.OnPolicy(config.Seed, step, d.ResolvedLmbda);
        var batch = onPolicy
            ? await Run.SampleAsync(_plan!, step, d.PromptsPerStep, d.NumGenerations, d.MaxNewTokens, d.Temperature, d.Samplers)
            : DistillBatches.FromDataset(_tokenizer!, _plan!.NextPrompts(d.PromptsPerStep), Run.Record.Status.PolicyVersion).ToMessage(0);
        var teacherClock = Stopwatch.StartNew();
        var teacher = Run.Teacher(_teacherKey);
        var request = new DistillStepRequest { Rollouts = batch, LearningRate = d.LearningRate, OnPolicy = onPolicy };
        request = d.Loss == DistillLossType.ReverseKl
            ? request with { TeacherLogProbs = await teacher.LogProbs(batch, d.Temperature) }
            : request with { TeacherTopK = await teacher.TopK(batch, d.TopK, d.Temperature) };
        _teacherSeconds += teacherClock.Elapsed.TotalSeconds;
        var result = await Run.Learner.DistillStep(request);
        _trained++;
        _onPolicySteps += onPolicy ? 1 : 0;
        _teacherTokens += result.CompletionTokens;
        (_generationSeconds, _updateSeconds, _last) = (_generationSeconds + batch.Seconds, _updateSeconds + result.Seconds, result);
        Run.Record.TrainSeconds += clock.Elapsed.TotalSeconds;
        Run.Record.PublishedStep = result.Step;
        Run.Metrics.Update(result.Step, new Dictionary<string, double>
        {
            [MetricNames.Loss] = result.Loss,
            [MetricNames.DistillReverseKl] = result.ReverseKl,
            [MetricNames.GradNorm] = result.GradNorm,
            [MetricNames.LearningRate] = d.LearningRate,
            [MetricNames.OnPolicy] = onPolicy ? 1 : 0,
            [MetricNames.CompletionLength] = result.Sequences > 0 ? (double)result.CompletionTokens / result.Sequences : 0,
            [MetricNames.SyncBytes] = result.PublishedBytes,
        }, new Dictionary<string, double> { [MetricNames.TeacherTokens] = _teacherTokens }, force: _trained == d.Steps);
        Run.SetStatus(s => s with
        {
            Step = result.Step,
            PolicyVersion = result.PolicyVersion,
            LastLoss = result.Loss,
            LearningRate = d.LearningRate,
        });

        if (_trained < d.Steps)
        {
            await Run.AtBoundaryAsync(_trained);
            return false;
        }
        Run.EndStage(new Dictionary<string, double>
        {
            ["loss"] = result.Loss,
            ["reverse_kl"] = result.ReverseKl,
            ["teacher_tokens"] = _teacherTokens,
            ["on_policy_steps"] = _onPolicySteps,
            ["generation_seconds"] = _generationSeconds,
            ["teacher_seconds"] = _teacherSeconds,
            ["update_seconds"] = _updateSeconds,
        }.ToImmutableSortedDictionary(StringComparer.Ordinal));
        // This experiment is done with the teacher; the last experiment out frees it.
        await ReleaseTeacherAsync();
        return true;
    }

    /// <summary>Detaches this experiment from its teacher, once: at the stage's end, and from the controller's release
    /// of a run that ended otherwise (failed, stopped), so a shared teacher is not held for a run that is gone.</summary>
    public async Task ReleaseTeacherAsync()
    {
        if (_teacherKey.Length == 0) return;
        var key = _teacherKey;
        _teacherKey = "";
        await Run.Teacher(key).Release(Run.ExperimentId);
    }
}

static partial class DistillLog
{
    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: distillation from policy version {Version}, teacher {Folder} ({Key}, shared by {Experiments} experiment(s))")]
    public static partial void DistillStarted(this ILogger logger, string experimentId, long version, string folder, string key, int experiments);
}

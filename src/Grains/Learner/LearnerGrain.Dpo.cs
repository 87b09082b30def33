using System.Collections.Immutable;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Preference;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Preference;

namespace RlhfActors.Grains.Learner;

/// <summary>The learner's DPO-family stage (algorithm dpo, and every RLAIF round): the model the warm-up trained, a
/// fresh AdamW, one update per call on the pairs the controller sends with their reference log-probs.</summary>
public sealed partial class LearnerGrain
{
    DpoLearner? _dpo;

    public async Task<PolicyVersionInfo> StartDpo()
    {
        var learner = RequireLearner();
        var config = _config!;
        if (!config.IsDpo && !config.IsRlaif && !config.IsOnlineDpo)
            throw new InvalidOperationException($"experiment '{config.Name}' is not a DPO, RLAIF or online DPO run (algorithm: {config.Algorithm})");
        if (_dpo is not null) throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has already started DPO");
        var start = await PublishPolicy();
        await CreateDpoAsync();
        await InGroupAsync(() => Task.FromResult(0), peer => peer.StartRankStage("dpo", start.Version), "the start of dpo", resumable: _ => true);
        LogStageStarted(this.GetPrimaryKeyString(), "DPO", start.Version, start.Step);
        return start;
    }

    /// <summary>The DPO-family learner on the current weights. The reference never lives here: the controller sends
    /// log-probs from ReferenceGrain (SimPO and ORPO need none).</summary>
    async Task CreateDpoAsync()
    {
        var learner = RequireLearner();
        var options = PreferenceSpecs.Dpo(_config!);
        _dpo = await _device.RunAsync(() => new DpoLearner(learner.Model, reference: null, learner.Tokenizer, options));
    }

    /// <summary>Continues the DPO stage of <paramref name="checkpoint"/>, whose policy the model already holds:
    /// restores the DPO optimizer and position, then publishes the weights as a new version.</summary>
    async Task ResumeDpoAsync(Training.Checkpoints.LoadedCheckpoint checkpoint, string checkpointDirectory)
    {
        var learner = RequireLearner();
        var config = _config!;
        var options = PreferenceSpecs.Dpo(config);
        _dpo = await RestoredOnDeviceAsync(
            () => new DpoLearner(learner.Model, reference: null, learner.Tokenizer, options),
            dpo => dpo.LoadState(checkpoint, checkpointDirectory, config.Seed));
        if (IsCoordinator) await PublishPolicy();
    }

    public async Task<DpoStepResult> DpoStep(DpoStepRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var learner = RequireLearner();
        var dpo = _dpo ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started DPO: call StartDpo first");
        var pairs = request.Pairs.Select(p => p.ToPair()).ToArray();
        var reference = ReferenceRows(request.Reference);
        bool[]? labels = request.Labels.IsDefault ? null : [.. request.Labels];
        var stepBefore = GlobalStep(learner);
        // Reducer is read per attempt: a group formed again after a lost rank has a new exchange.
        var (m, step) = await InGroupAsync(() =>
            {
                var reducer = Reducer;
                return _device.RunAsync(() => (dpo.Step(pairs, reference, request.LearningRate, reducer, labels), GlobalStep(learner)));
            },
            peer => peer.DpoRankStep(request), $"dpo step {stepBefore + 1}", resumable: committed => committed == 0);
        await CheckAgreementAsync(stepBefore, step);
        return new DpoStepResult
        {
            Step = step,
            PolicyVersion = _published?.Version ?? -1,
            Loss = m.Loss,
            RewardsChosen = m.RewardsChosen,
            RewardsRejected = m.RewardsRejected,
            Margin = m.Margin,
            Accuracy = m.Accuracy,
            GradNorm = m.GradNorm,
            Pairs = m.Pairs,
            Seconds = m.Seconds,
            Logged = m.Logged.ToImmutableSortedDictionary(StringComparer.Ordinal),
        };
    }

    public async Task<PreferenceEvalResult> EvaluatePreferences(PreferenceEvalRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var dpo = _dpo ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started DPO: call StartDpo first");
        var pairs = request.Pairs.Select(p => p.ToPair()).ToArray();
        var reference = ReferenceRows(request.Reference);
        var eval = await _device.RunAsync(() => dpo.Evaluate(pairs, reference));
        return eval.ToResult();
    }

    static (float Chosen, float Rejected)[]? ReferenceRows(System.Collections.Immutable.ImmutableArray<PairLogProbs> reference) =>
        reference.IsDefault ? null : reference.Select(r => (r.Chosen, r.Rejected)).ToArray();

    [LoggerMessage(Level = LogLevel.Information, Message = "Experiment {ExperimentId}: {Stage} starts from policy version {Version} (step {Step})")]
    private partial void LogStageStarted(string experimentId, string stage, long version, int step);
}

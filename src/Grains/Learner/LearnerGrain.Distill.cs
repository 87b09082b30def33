using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Policy;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Grains.Rollouts;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Distillation;

namespace RlhfActors.Grains.Learner;

/// <summary>The learner's distillation stage: the student the SFT warm-up trained, a fresh AdamW, one update per call
/// against the teacher's answer the controller brings (the teacher lives in its own, shared grain).</summary>
public sealed partial class LearnerGrain
{
    DistillLearner? _distill;

    public async Task<PolicyVersionInfo> StartDistill()
    {
        var learner = RequireLearner();
        var config = _config!;
        if (!config.IsDistill) throw new InvalidOperationException($"experiment '{config.Name}' is not a distillation run (algorithm: {config.Algorithm})");
        if (_distill is not null) throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has already started distillation");
        // Here as well as at load: a config built in code, or a teacher folder replaced since, must not train on
        // token ids that mean different things to the two models.
        await _device.RunAsync(() => DistillSpecs.CheckVocabulary(config, learner.Tokenizer, learner.Config.VocabSize));
        var start = await PublishPolicy();
        var options = DistillSpecs.Options(config);
        _distill = await _device.RunAsync(() => new DistillLearner(learner.Model, options, learner.Tokenizer.PadId, initialVersion: start.Version));
        LogStageStarted(this.GetPrimaryKeyString(), "distillation", start.Version, start.Step);
        return start;
    }

    public async Task<DistillStepResult> DistillStep(DistillStepRequest request)
    {
        ArgumentNullException.ThrowIfNull(request);
        var learner = RequireLearner();
        var distill = _distill ?? throw new InvalidOperationException($"learner '{this.GetPrimaryKeyString()}' has not started distillation: call StartDistill first");
        var batch = request.Rollouts.ToBatch();
        var teacher = new TeacherTargets(
            request.TeacherLogProbs.IsDefault ? null : [.. request.TeacherLogProbs],
            request.TeacherTopK.IsDefault ? null : [.. request.TeacherTopK.Select(r => new TopKRow(r.K, r.Ids, r.LogProbs))]);
        var (metrics, weights, step) = await _device.RunAsync(() =>
        {
            var m = distill.Step(batch, teacher, request.LearningRate, request.OnPolicy);
            // Export inside the same job: the published weights are exactly the ones this update produced.
            return (m, SyncPayload(learner), GlobalStep(learner));
        });
        var published = await PublishAsync(weights, step, _nextVersion);
        return new DistillStepResult
        {
            Step = step,
            PolicyVersion = published.Version,
            Loss = metrics.Loss,
            ReverseKl = metrics.ReverseKl,
            GradNorm = metrics.GradNorm,
            Sequences = metrics.Sequences,
            CompletionTokens = metrics.CompletionTokens,
            Seconds = metrics.Seconds,
            PublishedBytes = published.Bytes,
        };
    }
}

using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Evaluation;
using RlhfActors.Training.Judging;
using RlhfActors.Training.Preference;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Weights;

namespace RlhfActors.Grains.Specs;

/// <summary>
/// An online DPO experiment config run as plain Training calls in the calling thread, no actors: the SFT warm-up, a
/// frozen copy of its weights as the reference (TRL's ref_model), then <see cref="OnlineDpoLoop"/> with one shard per
/// configured sampler and the verifier as the judge. The same math as the grain pipeline (samplers → judge →
/// reference → learner): the reference of the equivalence test. The verifier judge only: the reward-model judge's
/// model is trained by another stage, and the pairwise judges are models or endpoints of their own.
/// </summary>
public sealed class InProcessOnlineDpo : IDisposable
{
    readonly SftLearner sft;
    readonly PolicyEvaluator reference;
    readonly DpoLearner dpo;
    readonly OnlineDpoLoop loop;
    readonly double learningRate;

    InProcessOnlineDpo(SftLearner sft, PolicyEvaluator reference, DpoLearner dpo, OnlineDpoLoop loop, double learningRate)
    {
        (this.sft, this.reference, this.dpo, this.loop, this.learningRate) = (sft, reference, dpo, loop, learningRate);
        WarmWeights = sft.ExportWeights();
    }

    /// <summary>Builds the learner and runs the <c>sft.steps</c> warm-up (the slow part).</summary>
    public static InProcessOnlineDpo Create(ExperimentConfig config)
    {
        var section = config.OnlineDpo;
        if (section.Judge.Type != JudgeType.Verifier)
            throw new NotSupportedException($"the in-process online DPO judges with the verifier (online_dpo.judge.type: {section.Judge.Type.Yaml()})");
        var (data, sft) = InProcessGrpo.WarmUp(config);
        var reference = PolicyEvaluator.Create(sft.Config, config.Model.ResolvedTokenizer, config.Model.DType.Yaml());
        reference.LoadWeights(sft.ExportWeights());
        var dpo = new DpoLearner(sft.Model, reference: null, sft.Tokenizer, PreferenceSpecs.Dpo(config));
        // As the reference grain: each pair's reference rows computed once, through the same cache.
        var cache = new ReferenceLogProbCache();
        double penalty = section.MissingEosPenalty ?? 0;
        var loop = new OnlineDpoLoop(dpo, sft.Tokenizer, data.Train, sets => CandidateRanking.RankByVerifier(sets, data.Verifier, penalty),
            dpo.Options.NeedsReference ? pairs => cache.GetOrCompute(pairs, reference.PairLogProbs) : null,
            section.PromptsPerStep, section.MaxNewTokens, section.Temperature, config.Seed, section.Samplers);
        return new InProcessOnlineDpo(sft, reference, dpo, loop, config.Dpo.LearningRate);
    }

    /// <summary>The weights after the warm-up, as online DPO starts from them (and its reference holds).</summary>
    public IReadOnlyList<TensorBytes> WarmWeights { get; }

    public OnlineDpoStepMetrics Step() => loop.Step(learningRate);

    public IReadOnlyList<TensorBytes> ExportWeights() => sft.ExportWeights();

    public void Dispose()
    {
        dpo.Dispose();
        reference.Dispose();
        sft.Dispose();
    }
}

using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Data;
using RlhfActors.Training.Evaluation;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Tasks;
using RlhfActors.Training.Rewards;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Weights;

namespace RlhfActors.Grains.Specs;

/// <summary>
/// A GRPO experiment config run as plain Training calls in the calling thread, no actors: the SFT warm-up, a frozen
/// copy of its weights as the reference, then <see cref="GrpoLoop"/> with one shard per configured sampler. The same
/// math as the grain pipeline: the baseline of <c>bench pipeline</c> and the reference of the equivalence test.
/// </summary>
public sealed class InProcessGrpo : IDisposable
{
    readonly SftLearner sft;
    readonly DecoderModel? reference;
    readonly GrpoLearner grpo;
    readonly CompositeReward reward;
    readonly GrpoLoop loop;
    readonly double learningRate;

    InProcessGrpo(SftLearner sft, DecoderModel? reference, GrpoLearner grpo, CompositeReward reward, GrpoLoop loop,
        double learningRate, IReadOnlyList<TensorBytes> warmWeights)
    {
        (this.sft, this.reference, this.grpo, this.reward, this.loop, this.learningRate) = (sft, reference, grpo, reward, loop, learningRate);
        WarmWeights = warmWeights;
    }

    /// <summary>Builds the learner and runs the <c>sft.steps</c> warm-up (the slow part).</summary>
    public static InProcessGrpo Create(ExperimentConfig config)
    {
        var (data, sft) = WarmUp(config);
        var warm = sft.ExportWeights();
        var options = GrpoSpecs.Options(config);
        DecoderModel? reference = null;
        if (PeftSpecs.For(config, PeftSection.GrpoStage) is { } peft)
            // Under LoRA the reference is the base with adapters off: no copy.
            Lora.BeginStage(sft.Model, peft, StableSeed.Derive(config.Seed, Lora.GrpoSeedStream), previousStageTrained: config.Sft.Steps > 0);
        else if (options.Beta > 0)
        {
            reference = new DecoderModel(sft.Config);
            ModelFactory.LoadWeights(reference, warm, "reference");
        }
        var grpo = new GrpoLearner(sft.Model, reference, options, sft.Tokenizer.PadId, config.Grpo.WeightDecay, config.Grpo.MaxGradNorm);
        var reward = RewardRegistry.Create(GrpoSpecs.Reward(config), config.Data.Task);
        // model.sampler_dtype: the samplers hold their own copy in that dtype, as the sampler grains do.
        var copy = config.Model.SamplerDTypeDiffers
            ? PolicyEvaluator.Create(sft.Config, config.Model.ResolvedTokenizer, config.Model.ResolvedSamplerDType.Yaml())
            : null;
        var loop = new GrpoLoop(grpo, sft.Tokenizer, data.Train, reward, options, config.Grpo.PromptsPerStep, config.Seed, config.Grpo.Samplers,
            copy, ExperimentSpecs.WireDType(config.Model.ResolvedSamplerDType));
        return new InProcessGrpo(sft, reference, grpo, reward, loop, config.Grpo.LearningRate, warm) { samplerCopy = copy };
    }

    /// <summary>The SFT learner of <paramref name="config"/> after its <c>sft.steps</c> warm-up, as the learner grain
    /// trains it: what every in-process twin of a stage after the warm-up starts from.</summary>
    public static SftLearner WarmUp(ExperimentConfig config, LoadedData data)
    {
        var sft = SftLearner.Create(new SftLearnerSpec(ExperimentSpecs.Model(config.Model), config.Model.ResolvedTokenizer,
            ExperimentSpecs.SftDemonstrations(config, data.Train), ExperimentSpecs.Sft(config), config.Seed,
            Peft: PeftSpecs.For(config, PeftSection.SftStage)));
        for (int i = 0; i < config.Sft.Steps; i++) sft.Step();
        return sft;
    }

    /// <summary>The run's data and its SFT learner after the <c>sft.steps</c> warm-up, as the grains' SFT stage
    /// leaves them (every in-process form starts here).</summary>
    internal static (LoadedData Data, SftLearner Sft) WarmUp(ExperimentConfig config)
    {
        var data = ExperimentData.Load(ExperimentSpecs.Data(config));
        return (data, WarmUp(config, data));
    }

    /// <summary>The weights after the warm-up, as GRPO starts from them.</summary>
    public IReadOnlyList<TensorBytes> WarmWeights { get; }

    public GrpoStepMetrics Step() => loop.Step(learningRate);

    /// <summary>The policy being trained (under LoRA: the base with its adapters).</summary>
    public DecoderModel Policy => sft.Model;

    public IReadOnlyList<TensorBytes> ExportWeights() => sft.ExportWeights();

    PolicyEvaluator? samplerCopy;

    public void Dispose()
    {
        samplerCopy?.Dispose();
        reward.Dispose();
        grpo.Dispose();
        reference?.Dispose();
        sft.Dispose();
    }
}

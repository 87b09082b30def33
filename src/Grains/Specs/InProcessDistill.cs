using RlhfActors.Abstractions.Config;
using RlhfActors.Training.Data;
using RlhfActors.Training.Distillation;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Weights;

namespace RlhfActors.Grains.Specs;

/// <summary>
/// A distill experiment config run as plain Training calls in the calling thread, no actors: the SFT warm-up, the
/// teacher loaded from its folder, then <see cref="DistillLoop"/> with one shard per configured sampler. The same
/// math as the grain pipeline: the reference of its equivalence test.
/// </summary>
public sealed class InProcessDistill : IDisposable
{
    readonly SftLearner sft;
    readonly TeacherModel teacher;
    readonly DistillLearner distill;
    readonly DistillLoop loop;
    readonly double learningRate;

    InProcessDistill(SftLearner sft, TeacherModel teacher, DistillLearner distill, DistillLoop loop, double learningRate) =>
        (this.sft, this.teacher, this.distill, this.loop, this.learningRate) = (sft, teacher, distill, loop, learningRate);

    /// <summary>Builds the student, runs the <c>sft.steps</c> warm-up and loads the teacher.</summary>
    public static InProcessDistill Create(ExperimentConfig config)
    {
        var data = ExperimentData.Load(ExperimentSpecs.Data(config));
        var sft = SftLearner.Create(new SftLearnerSpec(ExperimentSpecs.Model(config.Model), config.Model.ResolvedTokenizer,
            ExperimentSpecs.SftDemonstrations(config, data.Train), ExperimentSpecs.Sft(config), config.Seed));
        for (int i = 0; i < config.Sft.Steps; i++) sft.Step();
        DistillSpecs.CheckVocabulary(config, sft.Tokenizer, sft.Config.VocabSize);
        var teacher = TeacherModel.Load(config.Distill.Teacher, config.Model.DType.Yaml());
        var distill = new DistillLearner(sft.Model, DistillSpecs.Options(config), sft.Tokenizer.PadId);
        var loop = new DistillLoop(distill, teacher, sft.Tokenizer, data.Train, config.Distill.PromptsPerStep, config.Seed, config.Distill.Samplers);
        return new InProcessDistill(sft, teacher, distill, loop, config.Distill.LearningRate);
    }

    public DistillStepMetrics Step() => loop.Step(learningRate);

    public IReadOnlyList<TensorBytes> ExportWeights() => sft.ExportWeights();

    public void Dispose()
    {
        distill.Dispose();
        teacher.Dispose();
        sft.Dispose();
    }
}

using System.Diagnostics;
using System.Text.Json;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Model;
using RlhfActors.Training.Optim;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sft;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Distillation;

/// <summary>One distillation update, as measured.</summary>
/// <param name="ReverseKl">Token mean of the student's reverse KL from the teacher on the step's tokens (see
/// <see cref="DistillLossOutput.ReverseKl"/>).</param>
/// <param name="CompletionTokens">Completion tokens trained on: the tokens the teacher scored.</param>
public sealed record DistillStepMetrics(int Step, long PolicyVersion, double Loss, double ReverseKl, double GradNorm,
    int Sequences, long CompletionTokens, double Seconds, bool OnPolicy);

/// <summary>
/// One distillation update per batch: the student's log-probs (or distributions) of the batch's completions, the loss
/// against what the teacher said of the same tokens (<see cref="DistillationLoss"/>), backward, clip, AdamW. The
/// teacher lives elsewhere (a TeacherGrain, or the in-process loop's <see cref="TeacherModel"/>): this class sees
/// only its answers. Not thread-safe: one device worker thread calls it.
/// </summary>
public sealed class DistillLearner : IDisposable
{
    readonly DecoderModel student;
    readonly AdamW optimizer;
    readonly DistillOptions options;
    readonly FiniteUpdates finite;
    readonly int padId;

    public DistillLearner(DecoderModel student, DistillOptions options, int padId, long initialVersion = 0)
    {
        this.student = student;
        this.options = options;
        this.padId = padId;
        // TRL's (transformers') AdamW defaults: GKDConfig changes none of them.
        optimizer = new AdamW(student.TrainableParameters(), beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: options.WeightDecay);
        finite = new FiniteUpdates(options.MaxNonfiniteSteps, "distill");
        PolicyVersion = initialVersion;
    }

    public DecoderModel Student => student;
    public DistillOptions Options => options;
    public int StepsDone { get; private set; }
    /// <summary>Bumped by every update.</summary>
    public long PolicyVersion { get; private set; }

    public DistillStepMetrics Step(RolloutBatch batch, TeacherTargets teacher, double learningRate, bool onPolicy)
    {
        var clock = Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        student.train();
        var output = options.Loss switch
        {
            DistillLoss.ReverseKl => ReverseKl(batch, teacher.LogProbs
                ?? throw new ArgumentException("loss reverse_kl needs the teacher's per-token log-probs")),
            DistillLoss.Jsd => Jsd(batch, teacher.TopK ?? throw new ArgumentException("loss jsd needs the teacher's top-k distributions")),
            var other => throw new ArgumentOutOfRangeException(nameof(options), other, "unknown distillation loss"),
        };
        optimizer.ZeroGrad();
        output.Loss.backward();
        double loss = output.Loss.ToDouble();
        var trainable = student.TrainableParameters().Select(p => p.Param).ToArray();
        double gradNorm = FiniteUpdates.ClipGradients(trainable, options.MaxGradNorm);
        if (finite.Admit(loss, gradNorm, StepsDone + 1)) optimizer.Step(learningRate);
        StepsDone++;
        PolicyVersion++;
        return new DistillStepMetrics(StepsDone, PolicyVersion, loss, output.ReverseKl, gradNorm, batch.Count,
            (long)output.Tokens, clock.Elapsed.TotalSeconds, onPolicy);
    }

    DistillLossOutput ReverseKl(RolloutBatch batch, IReadOnlyList<float[]> teacher)
    {
        Rows(batch, teacher.Count);
        var (logp, mask) = CompletionLogProbs.Compute(student, batch.PromptIds, batch.CompletionIds, options.Temperature, padId);
        return DistillationLoss.ReverseKl(logp, PerTokenRows.RightPadded(teacher, logp.shape[1], logp.device), mask);
    }

    DistillLossOutput Jsd(RolloutBatch batch, IReadOnlyList<TopKRow> teacher)
    {
        Rows(batch, teacher.Count);
        var (logits, mask, _) = CompletionLogProbs.Logits(student, batch.PromptIds, batch.CompletionIds, options.Temperature, padId);
        long width = logits.shape[1];
        int k = teacher[0].K;
        if (teacher.Any(r => r.K != k)) throw new ArgumentException("the teacher's rows have different k");
        // Padding positions get id 0 with log-prob 0: finite, and masked out of the loss.
        var ids = new long[teacher.Count * width * k];
        var logps = new float[ids.Length];
        for (int b = 0; b < teacher.Count; b++)
        {
            var row = teacher[b];
            if (row.Ids.Length != batch.CompletionIds[b].Length * k)
                throw new ArgumentException($"row {b}: the teacher sent {row.Ids.Length} entries for {batch.CompletionIds[b].Length} tokens × k {k}");
            for (int j = 0; j < row.Ids.Length; j++) ids[b * width * k + j] = row.Ids[j];
            row.LogProbs.AsSpan().CopyTo(logps.AsSpan((int)(b * width * k)));
        }
        long[] shape = [teacher.Count, width, k];
        return DistillationLoss.GeneralizedJsd(logits, tensor(ids, shape, device: logits.device),
            tensor(logps, shape, device: logits.device), mask, options.Beta);
    }

    static void Rows(RolloutBatch batch, int teacherRows)
    {
        if (teacherRows != batch.Count) throw new ArgumentException($"{teacherRows} teacher rows for {batch.Count} completions");
    }

    /// <summary>Weights (HF folder), this optimizer's moments and the stage's position, verified like every
    /// checkpoint. A distill checkpoint is for evaluation and export: the stage does not resume from one yet.</summary>
    public CheckpointInfo SaveCheckpoint(string directory, int globalStep, int seed, IReadOnlyDictionary<string, string> provenance,
        IReadOnlyDictionary<string, byte[]> extraFiles)
    {
        var state = new DistillTrainerState("distill", globalStep, StepsDone, PolicyVersion, seed, optimizer.StepCount);
        return CheckpointWriter.Write(directory, student.Config, ModelFactory.ExportWeights(student), optimizer.ExportState(),
            JsonSerializer.Serialize(state), globalStep, provenance, extraFiles: extraFiles);
    }

    sealed record DistillTrainerState(string Stage, int Step, int DistillSteps, long PolicyVersion, int Seed, long OptimizerSteps);

    public void Dispose() => optimizer.Dispose();
}

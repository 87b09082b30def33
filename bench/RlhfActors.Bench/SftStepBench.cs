using System.Diagnostics;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Bench;

/// <summary>
/// Achieved FLOP/s of the real SFT step (SftLearner.Step: batch build, forward, loss, backward, gradient
/// clipping, AdamW) and its ratio to the GEMM peak measured in the same process for the same dtype: how much
/// of the hardware the training loop turns into model arithmetic.
/// </summary>
public static class SftStepBench
{
    const int WarmupSteps = 3;

    sealed record Shape(ModelConfig Config, int Batch, int SequenceLength, int TimedSteps);

    /// <summary>Wide enough that matrix products dominate the step; vocab small so the loss is not the cost.</summary>
    static Shape For(bool quick) => quick
        ? new Shape(new ModelConfig { VocabSize = 128, HiddenSize = 256, IntermediateSize = 704, NumHiddenLayers = 2,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 128, TieWordEmbeddings = true }, 4, 64, 3)
        : new Shape(new ModelConfig { VocabSize = 512, HiddenSize = 768, IntermediateSize = 2048, NumHiddenLayers = 6,
            NumAttentionHeads = 12, NumKeyValueHeads = 4, MaxPositionEmbeddings = 512, TieWordEmbeddings = true }, 8, 128, 10);

    public static void Run(BenchOptions options)
    {
        var shape = For(options.Quick);
        foreach (var dtype in BenchOptions.DTypes)
        {
            string name = BenchOptions.Name(dtype);
            using var learner = SftLearner.Create(new SftLearnerSpec(
                new ModelSource { Config = shape.Config, DType = name },
                TokenizerFiles.CharSpec,
                RandomExamples(shape.Batch * 4, shape.SequenceLength, seed: 3),
                new SftOptions
                {
                    Steps = WarmupSteps + shape.TimedSteps, BatchSize = shape.Batch, LearningRate = 1e-4, WarmupSteps = 0,
                    // Loss on every token and clipping on: the full step the learner runs, nothing skipped.
                    CompletionOnlyLoss = false, MaxGradNorm = 1.0,
                },
                Seed: 1));

            var seconds = new List<double>();
            long tokensPerStep = (long)shape.Batch * shape.SequenceLength;
            double firstLoss = double.NaN, lastLoss = double.NaN;
            for (int i = 0; i < WarmupSteps + shape.TimedSteps; i++)
            {
                JsonLine.Progress($"sft-step {name}: step {i + 1}/{WarmupSteps + shape.TimedSteps}{(i < WarmupSteps ? " (warm-up)" : "")}");
                var clock = Stopwatch.StartNew();
                var metrics = learner.Step(); // disposes its own tensors in a scope of its own
                double elapsed = clock.Elapsed.TotalSeconds;
                if (metrics.Tokens != tokensPerStep)
                    throw new InvalidOperationException($"a step trained {metrics.Tokens} tokens, expected {tokensPerStep}");
                if (!double.IsFinite(metrics.Loss)) throw new InvalidOperationException($"loss is {metrics.Loss}");
                if (i == 0) firstLoss = metrics.Loss;
                lastLoss = metrics.Loss;
                if (i >= WarmupSteps) seconds.Add(elapsed);
            }

            double stepSeconds = Timing.Median(seconds);
            double stepFlops = TrainingFlops.PerToken(learner.Model, shape.SequenceLength) * tokensPerStep;
            double achieved = stepFlops / stepSeconds / 1e9;
            var (peak, peakN) = GemmBench.Peak(dtype, options);
            JsonLine.Write("sft-step", ("dtype", name), ("hidden", shape.Config.HiddenSize), ("layers", shape.Config.NumHiddenLayers),
                ("batch", shape.Batch), ("seq", shape.SequenceLength), ("matmul_params", TrainingFlops.MatmulParameters(learner.Model)),
                ("step_gflop", stepFlops / 1e9), ("steps", shape.TimedSteps), ("step_s", stepSeconds),
                ("tokens_per_s", tokensPerStep / stepSeconds), ("achieved_gflops", achieved),
                ("gemm_peak_gflops", peak), ("gemm_peak_n", peakN), ("ratio", achieved / peak),
                ("loss_first", firstLoss), ("loss_last", lastLoss));
        }
    }

    /// <summary>Random printable strings: prompt 8 characters, completion sized so that [bos] prompt completion
    /// [eos] is exactly <paramref name="sequenceLength"/> + 1 tokens, i.e. <paramref name="sequenceLength"/>
    /// input positions and no padding.</summary>
    internal static PromptCompletion[] RandomExamples(int count, int sequenceLength, int seed)
    {
        const int promptLength = 8;
        var random = new Random(seed);
        string Text(int length) => new(Enumerable.Range(0, length).Select(_ => (char)random.Next(' ', '~' + 1)).ToArray());
        return Enumerable.Range(0, count).Select(_ => new PromptCompletion(Text(promptLength), Text(sequenceLength - promptLength - 1))).ToArray();
    }
}

using RlhfActors.Abstractions.Config;
using System.Diagnostics;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Bench;

/// <summary>
/// What LoRA and QLoRA buy on one model, against full fine-tuning: the bytes of the training state (trainable
/// weights + their gradients + AdamW moments), the bytes the base holds (fp32, or NF4 under QLoRA), the step time of
/// the real SFT step (SftLearner.Step, bf16 compute with fp32 master weights), and the bytes a weight sync moves
/// (the full model vs the adapter only). The three modes run one after another on the same batches, each learner
/// disposed before the next is built.
/// </summary>
public static class PeftBench
{
    const int WarmupSteps = 3;

    /// <summary>r = 8, α = 16 (this project's and PEFT's usual default) on all seven linear layers of every block
    /// (PEFT's "all-linear"). At hidden 768 the adapter is 1.7% of the model's weights; r = 16 would be 3.4%.</summary>
    static readonly LoraSettings Lora8 = new() { Rank = 8, Alpha = 16, TargetModules = LoraSettings.AllLinear };

    // Targets (issue 4). The survey figures they were set against: LoRA training state 1/5.6 of full, QLoRA +39% step.
    const double TargetLoraTrainingState = 1.0 / 8, TargetQloraBase = 0.16, TargetQloraStep = 1.2, TargetAdapterSync = 0.02;

    sealed record Shape(ModelConfig Config, int Batch, int SequenceLength, int TimedSteps);

    /// <summary>Wide enough that matrix products dominate the step (as sft-step, with 4 layers instead of 6 since it
    /// runs three times); every linear's element count is a multiple of the NF4 block (64).</summary>
    static Shape For(bool quick) => quick
        ? new Shape(new ModelConfig { VocabSize = 128, HiddenSize = 256, IntermediateSize = 704, NumHiddenLayers = 2,
            NumAttentionHeads = 4, NumKeyValueHeads = 2, MaxPositionEmbeddings = 128, TieWordEmbeddings = true }, 4, 64, 3)
        : new Shape(new ModelConfig { VocabSize = 512, HiddenSize = 768, IntermediateSize = 2048, NumHiddenLayers = 4,
            NumAttentionHeads = 12, NumKeyValueHeads = 4, MaxPositionEmbeddings = 512, TieWordEmbeddings = true }, 8, 128, 10);

    sealed record Mode(string Name, long TrainingStateBytes, long BaseWeightBytes, double StepSeconds, long SyncBytes);

    public static void Run(BenchOptions options)
    {
        var shape = For(options.Quick);
        var full = Measure("full", null, shape);
        var lora = Measure("lora", Lora8, shape);
        var qlora = Measure("qlora", Lora8 with { QuantizeBase = true, DoubleQuant = true }, shape);

        // Full sync: every base weight as ModelFactory.ExportWeights gives it (fp32); adapter sync: Lora.ExportAdapter.
        JsonLine.Write("peft", ("mode", "sync"), ("full_sync_bytes", full.SyncBytes), ("adapter_sync_bytes", lora.SyncBytes),
            ("adapter_over_full", (double)lora.SyncBytes / full.SyncBytes));

        double trainingStateRatio = (double)lora.TrainingStateBytes / full.TrainingStateBytes;
        double baseRatio = (double)qlora.BaseWeightBytes / full.BaseWeightBytes;
        double stepRatio = qlora.StepSeconds / lora.StepSeconds;
        double syncRatio = (double)lora.SyncBytes / full.SyncBytes;
        // The targets are stated for the full-size model; a --quick run prints them as a smoke check ("judged": false).
        JsonLine.Write("peft", ("mode", "targets"), ("judged", !options.Quick),
            ("lora_training_state_ratio", trainingStateRatio), ("lora_training_state_target", TargetLoraTrainingState),
            ("lora_training_state_ok", trainingStateRatio <= TargetLoraTrainingState),
            ("qlora_base_ratio", baseRatio), ("qlora_base_target", TargetQloraBase), ("qlora_base_ok", baseRatio <= TargetQloraBase),
            ("qlora_step_ratio", stepRatio), ("qlora_step_target", TargetQloraStep), ("qlora_step_ok", stepRatio <= TargetQloraStep),
            ("adapter_sync_ratio", syncRatio), ("adapter_sync_target", TargetAdapterSync), ("adapter_sync_ok", syncRatio <= TargetAdapterSync));
    }

    /// <summary>Trains <see cref="WarmupSteps"/> + N steps in one mode (<paramref name="peft"/> null = full fine-tuning),
    /// then counts the bytes the model, its gradients and its optimizer hold, and prints the mode's line.</summary>
    static Mode Measure(string mode, LoraSettings? peft, Shape shape)
    {
        // Same seed, same examples: every mode starts from the same base and trains on the same batches.
        using var learner = SftLearner.Create(new SftLearnerSpec(
            new ModelSource { Config = shape.Config, DType = "bf16" },
            TokenizerFiles.CharSpec,
            SftStepBench.RandomExamples(shape.Batch * 4, shape.SequenceLength, seed: 3),
            new SftOptions
            {
                Steps = WarmupSteps + shape.TimedSteps, BatchSize = shape.Batch, LearningRate = 1e-4, WarmupSteps = 0,
                CompletionOnlyLoss = false, MaxGradNorm = 1.0,
            },
            Seed: 1, Peft: peft));
        var model = learner.Model;

        // --- the timed part: the real SFT step, median after warm-up ---
        var seconds = new List<double>();
        long tokensPerStep = (long)shape.Batch * shape.SequenceLength;
        double lastLoss = double.NaN;
        for (int i = 0; i < WarmupSteps + shape.TimedSteps; i++)
        {
            JsonLine.Progress($"peft {mode}: step {i + 1}/{WarmupSteps + shape.TimedSteps}{(i < WarmupSteps ? " (warm-up)" : "")}");
            var clock = Stopwatch.StartNew();
            var metrics = learner.Step();
            double elapsed = clock.Elapsed.TotalSeconds;
            if (metrics.Tokens != tokensPerStep)
                throw new InvalidOperationException($"a step trained {metrics.Tokens} tokens, expected {tokensPerStep}");
            if (!double.IsFinite(metrics.Loss)) throw new InvalidOperationException($"loss is {metrics.Loss}");
            lastLoss = metrics.Loss;
            if (i >= WarmupSteps) seconds.Add(elapsed);
        }
        double stepSeconds = Timing.Median(seconds);

        // --- the counted part: bytes held after those steps ---
        static long Bytes(TorchSharp.torch.Tensor t) => t.numel() * t.ElementSize;
        var trainable = model.TrainableParameters().Select(p => p.Param).ToArray();
        var quantized = model.Linears().Select(l => l.Layer.Quantized).OfType<Nf4Tensor>().ToArray();
        // Base: every parameter that is not an adapter (all of them under full fine-tuning), plus the NF4 codes and
        // scales of a quantised base (whose dense weights are no longer parameters).
        long baseWeightBytes = model.named_parameters().Where(p => !Lora.IsAdapterName(p.name)).Sum(p => Bytes(p.parameter))
            + quantized.Sum(q => q.StorageBytes);
        long trainableParams = trainable.Sum(p => p.numel());
        long totalParams = model.parameters().Sum(p => p.numel()) + quantized.Sum(q => q.NumberOfElements);
        long trainableWeightBytes = trainable.Sum(Bytes);
        // Gradients as allocated: AdamW.ZeroGrad zeroes them in place and never frees them, so after a step every
        // parameter that took part in a backward pass still holds its .grad; frozen ones hold none.
        long gradientBytes = model.parameters().Select(p => p.grad).OfType<TorchSharp.torch.Tensor>().Sum(Bytes);
        // AdamW moments: exp_avg and exp_avg_sq, zeros_like each requires_grad parameter (what AdamW.ExportState saves).
        long optimizerStateBytes = 2 * trainableWeightBytes;
        long trainingStateBytes = trainableWeightBytes + gradientBytes + optimizerStateBytes;
        long syncBytes = (peft is null ? ModelFactory.ExportWeights(model) : Lora.ExportAdapter(model)).Sum(t => (long)t.Data.Length);

        JsonLine.Write("peft", ("mode", mode), ("hidden", shape.Config.HiddenSize), ("layers", shape.Config.NumHiddenLayers),
            ("batch", shape.Batch), ("seq", shape.SequenceLength), ("dtype", "bf16"),
            ("trainable_params", trainableParams), ("total_params", totalParams),
            ("base_weight_bytes", baseWeightBytes), ("trainable_weight_bytes", trainableWeightBytes),
            ("gradient_bytes", gradientBytes), ("optimizer_state_bytes", optimizerStateBytes),
            ("training_state_bytes", trainingStateBytes),
            ("steps", shape.TimedSteps), ("step_seconds", stepSeconds), ("tokens_per_second", tokensPerStep / stepSeconds),
            ("loss_last", lastLoss));
        return new Mode(mode, trainingStateBytes, baseWeightBytes, stepSeconds, syncBytes);
    }
}

using System.Diagnostics;
using RlhfActors.Training.Data;
using RlhfActors.Training.Evaluation;
using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Bench;

/// <summary>
/// What LoRA costs in quality, and what it saves in forgetting. A base is trained (full SFT) on an old task
/// (reversing 3-letter strings); then, from that same base, a new task (sorting them) is learned three ways —
/// full fine-tuning, LoRA, QLoRA — with the same data, steps and batches. Each is scored on the new task's held-out
/// set (learning) and on the old task's (retention: forgetting shows as a drop from the base's accuracy).
/// </summary>
public static class PeftQualityBench
{
    static readonly ModelConfig Config = new()
    {
        VocabSize = 0, HiddenSize = 128, IntermediateSize = 384, NumHiddenLayers = 4, NumAttentionHeads = 4,
        NumKeyValueHeads = 4, MaxPositionEmbeddings = 64, TieWordEmbeddings = true, RmsNormEps = 1e-5,
    };

    static readonly LoraSettings Lora = new() { Rank = 16, Alpha = 32 };

    public static void Run(BenchOptions options)
    {
        int baseSteps = options.Quick ? 200 : 2000, newSteps = options.Quick ? 100 : 1000;
        // Both tasks draw from the same letters: a frozen base keeps its token embeddings and (tied) output layer, so
        // a new task over tokens the base never trained on would measure the embeddings, not the adapters.
        var old = Task("reverse", "length", 3, seed: 1);
        var fresh = Task("sort", "length", 3, seed: 2);
        var folder = Path.Combine(Path.GetTempPath(), $"rlhf-peft-quality-{Guid.NewGuid():N}");
        try
        {
            // --- the base: full SFT on the old task, saved as a Hugging Face folder every mode starts from ---
            var clock = Stopwatch.StartNew();
            using (var learner = SftLearner.Create(new SftLearnerSpec(new ModelSource { Config = Config }, TokenizerFiles.CharSpec,
                       old.Train, Options(baseSteps, 3e-3), Seed: 1)))
            {
                for (int i = 0; i < baseSteps; i++) learner.Step();
                HfModelFolder.Save(folder, learner.Config, learner.ExportWeights());
                var (oldAcc, newAcc) = Score(learner, old, fresh);
                JsonLine.Write("peft-quality", ("mode", "base"), ("steps", baseSteps), ("old_task_accuracy", oldAcc),
                    ("new_task_accuracy", newAcc), ("seconds", clock.Elapsed.TotalSeconds));
            }

            // --- the new task, three ways, same base, same batches ---
            foreach (var (mode, peft, lr) in new (string, LoraSettings?, double)[]
                     { ("full", null, 1e-3), ("lora", Lora, 3e-3), ("qlora", Lora with { QuantizeBase = true }, 3e-3) })
            {
                clock.Restart();
                using var learner = SftLearner.Create(new SftLearnerSpec(new ModelSource { Path = folder }, TokenizerFiles.CharSpec,
                    fresh.Train, Options(newSteps, lr), Seed: 2, Peft: peft));
                for (int i = 0; i < newSteps; i++) learner.Step();
                var trainSeconds = clock.Elapsed.TotalSeconds;
                var (oldAcc, newAcc) = Score(learner, old, fresh);
                JsonLine.Write("peft-quality", ("mode", mode), ("steps", newSteps), ("learning_rate", lr),
                    ("trainable_params", learner.Model.TrainableParameters().Sum(p => p.Param.numel())),
                    ("new_task_accuracy", newAcc), ("old_task_accuracy", oldAcc), ("train_seconds", trainSeconds));
            }
        }
        finally
        {
            if (Directory.Exists(folder)) Directory.Delete(folder, recursive: true);
        }
    }

    static LoadedData Task(string name, string parameter, int value, int seed) => ExperimentData.Load(new DataSpec
    {
        Task = name, TaskParameters = new Dictionary<string, int> { [parameter] = value }, TrainExamples = 50_000, EvalExamples = 200, Seed = seed,
    });

    static SftOptions Options(int steps, double lr) => new()
    {
        Steps = steps, BatchSize = 64, LearningRate = lr, WarmupSteps = 50, MinLearningRateRatio = 0.1, WeightDecay = 0.0,
    };

    /// <summary>Held-out exact match on both tasks, with the policy as a plain model (adapters merged).</summary>
    static (double Old, double New) Score(SftLearner learner, LoadedData old, LoadedData fresh)
    {
        using var evaluator = PolicyEvaluator.Create(learner.Config, TokenizerFiles.CharSpec);
        evaluator.LoadWeights(learner.ExportWeights());
        return (evaluator.Evaluate(old.Eval, old.Verifier, 6).Accuracy, evaluator.Evaluate(fresh.Eval, fresh.Verifier, 8).Accuracy);
    }
}

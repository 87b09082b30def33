using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using RlhfActors.Training.Weights;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace RlhfActors.Training.Scoring;

/// <summary>
/// A decoder body with a scalar head instead of the language-model head: Hugging Face's
/// <c>LlamaForSequenceClassification</c> with <c>num_labels = 1</c> (parameters <c>model.*</c> and
/// <c>score.weight</c> [1, hidden], no bias). One shape serves two roles:
/// <list type="bullet">
/// <item>a reward model reads the head at each sequence's last real token (<see cref="SequenceScores"/>);</item>
/// <item>a PPO critic reads it at every completion position (<see cref="CompletionValues"/>): V(s_t) is the value
/// of the state that is about to emit completion token t, aligned column for column with
/// <see cref="Rollouts.CompletionLogProbs"/>.</item>
/// </list>
/// The body is a <see cref="DecoderModel"/>, so LoRA attaches to it as to a policy; its language-model head (when
/// untied) is unused and frozen. Not thread-safe: one device worker thread owns it.
/// </summary>
public sealed class ScalarHeadModel : IDisposable
{
    public const string HeadName = "score.weight";

    readonly CastLinear score;

    ScalarHeadModel(DecoderModel body)
    {
        Body = body;
        score = new CastLinear(body.Config.HiddenSize, 1, hasBias: false);
        score.Weight!.DetachFromDisposeScope();
        var device = body.parameters().First().device;
        score.to(device);
        // An untied lm_head is not on the path from input to score: no gradient, no optimizer slot.
        foreach (var (name, p) in body.named_parameters())
            if (name == "lm_head.weight") p.requires_grad = false;
    }

    /// <summary>The transformer the head reads (its final-norm hidden states).</summary>
    public DecoderModel Body { get; }
    public ModelConfig Config => Body.Config;

    /// <summary>A fresh head on a new body holding <paramref name="bodyWeights"/> (a policy's weights: reward models
    /// and critics start from the SFT model, as in InstructGPT). The head starts at N(0, 1/(hidden + 1)), TRL's
    /// value-head init, so first scores are small and unbiased.</summary>
    public static ScalarHeadModel FromPolicyWeights(ModelConfig config, IReadOnlyList<TensorBytes> bodyWeights, long seed,
        ScalarType computeType, Device device)
    {
        var body = new DecoderModel(config, computeType);
        try
        {
            ModelFactory.LoadWeights(body, WithLmHead(config, bodyWeights), "scalar-head body");
            body.to(device);
            var model = new ScalarHeadModel(body);
            model.InitializeHead(seed);
            return model;
        }
        catch
        {
            body.Dispose();
            throw;
        }
    }

    /// <summary>An untied body needs an lm_head to load, but a scalar-head export leaves the unused one out: zeros
    /// stand in for it.</summary>
    static IReadOnlyList<TensorBytes> WithLmHead(ModelConfig config, IReadOnlyList<TensorBytes> weights)
    {
        if (config.TieWordEmbeddings || weights.Any(w => w.Name == "lm_head.weight")) return weights;
        var shape = new long[] { config.VocabSize, config.HiddenSize };
        return weights.Append(new TensorBytes("lm_head.weight", "F32", shape, new byte[config.VocabSize * config.HiddenSize * sizeof(float)])).ToArray();
    }

    /// <summary>A model from exported weights (<see cref="ExportWeights"/>): body and head.</summary>
    public static ScalarHeadModel FromWeights(ModelConfig config, IReadOnlyList<TensorBytes> weights, ScalarType computeType, Device device)
    {
        var head = weights.FirstOrDefault(w => w.Name == HeadName)
                   ?? throw new InvalidDataException($"scalar-head weights have no '{HeadName}' (not a reward model or critic export)");
        var model = FromPolicyWeights(config, weights.Where(w => w.Name != HeadName).ToArray(), seed: 0, computeType, device);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var t = TorchTensors.ToTorch(head);
        if (!t.shape.SequenceEqual(model.score.Weight!.shape))
            throw new InvalidDataException($"'{HeadName}' has shape [{string.Join(", ", t.shape)}], the config needs [1, {config.HiddenSize}]");
        model.score.Weight!.copy_(t.to(model.score.Weight!.dtype));
        return model;
    }

    void InitializeHead(long seed)
    {
        using var _ = no_grad();
        var gen = new Generator((ulong)seed);
        double std = 1.0 / Math.Sqrt(Config.HiddenSize + 1);
        score.Weight!.copy_(normal(0.0, std, score.Weight!.shape, ScalarType.Float32, generator: gen).to(score.Weight!.dtype));
    }

    /// <summary>Every parameter an optimizer updates: the body's trainable ones (all, or only LoRA adapters) and the
    /// head (always trained: it is new).</summary>
    public IEnumerable<(string Name, Parameter Param)> TrainableParameters() =>
        Body.TrainableParameters().Append((HeadName, score.Weight!));

    public void Train(bool on = true)
    {
        Body.train(on);
        score.train(on);
    }

    /// <summary>The head at every position: [B, T] fp32.</summary>
    public Tensor Values(Tensor inputIds) =>
        score.forward(Body.HiddenStates(inputIds)).squeeze(-1).to(ScalarType.Float32);

    /// <summary>One score per prompt + completion: the head at the last real token, [B] fp32. Differentiable when grad
    /// mode is on.</summary>
    public Tensor SequenceScores(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> completions, int padId)
    {
        var rows = PaddedSequences.Build(prompts, completions, padId, Config.MaxPositionEmbeddings);
        using var scope = NewDisposeScope();
        var device = Body.parameters().First().device;
        var values = Values(tensor(rows.Ids, new long[] { rows.Batch, rows.Width }, device: device));
        var at = tensor(rows.LastTokenColumns(), new long[] { rows.Batch, 1 }, device: device);
        return values.gather(1, at).squeeze(1).MoveToOuterDisposeScope();
    }

    /// <summary>V(s_t) for each completion token t, [B, Tc], read one column left of the token (the state that emits
    /// it), and the completion mask [B, Tc]; padding columns are 0.</summary>
    public (Tensor Values, Tensor Mask) CompletionValues(IReadOnlyList<int[]> prompts, IReadOnlyList<int[]> completions, int padId)
    {
        var rows = PaddedSequences.Build(prompts, completions, padId, Config.MaxPositionEmbeddings);
        int tc = rows.CompletionWidth;
        var gatherAt = new long[rows.Batch * tc];
        var mask = new float[rows.Batch * tc];
        for (int b = 0; b < rows.Batch; b++)
            for (int j = 0; j < rows.CompletionLengths[b]; j++)
            {
                gatherAt[b * tc + j] = rows.PromptLengths[b] + j - 1;
                mask[b * tc + j] = 1f;
            }
        using var scope = NewDisposeScope();
        var device = Body.parameters().First().device;
        var values = Values(tensor(rows.Ids, new long[] { rows.Batch, rows.Width }, device: device));
        var maskTensor = tensor(mask, new long[] { rows.Batch, tc }, device: device);
        var picked = values.gather(1, tensor(gatherAt, new long[] { rows.Batch, tc }, device: device)) * maskTensor;
        return (picked.MoveToOuterDisposeScope(), maskTensor.MoveToOuterDisposeScope());
    }

    /// <summary>Body (Hugging Face names, LoRA merged when attached) and head, as <c>LlamaForSequenceClassification</c>
    /// stores them; the unused lm_head is left out.</summary>
    public IReadOnlyList<TensorBytes> ExportWeights()
    {
        var body = Body.Lora is null ? ModelFactory.ExportWeights(Body) : Peft.Lora.ExportMerged(Body);
        return body.Where(w => w.Name != "lm_head.weight").Append(TorchTensors.FromTorch(HeadName, score.Weight!)).ToArray();
    }

    public void Dispose()
    {
        score.Dispose();
        Body.Dispose();
    }
}

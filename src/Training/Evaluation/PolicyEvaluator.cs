using TorchSharp;
using System.Diagnostics;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Sampling;
using RlhfActors.Training.Sft;
using RlhfActors.Training.Tokenization;
using RlhfActors.Training.Weights;
using static TorchSharp.torch;

namespace RlhfActors.Training.Evaluation;

public sealed record EvalResult(int Examples, int Correct, double Accuracy, double Seconds);

/// <summary>Holds an inference copy of a policy: scores held-out examples by greedy generation (exact match by the
/// task's verifier), samples rollout groups, and scores completions' log-probs (as a frozen reference). Not
/// thread-safe: one device worker thread calls it.</summary>
public sealed class PolicyEvaluator : IDisposable
{
    const int EvalBatch = 128;
    readonly DecoderModel model;
    readonly ITokenizer tokenizer;

    PolicyEvaluator(DecoderModel model, ITokenizer tokenizer) { this.model = model; this.tokenizer = tokenizer; }

    public static PolicyEvaluator Create(ModelConfig config, string tokenizer, string dtype = "fp32", string device = "cpu")
    {
        var model = new DecoderModel(config, ModelFactory.ParseComputeType(dtype));
        model.to(new Device(device));
        model.StoreWeightsInComputeType();
        model.eval();
        return new PolicyEvaluator(model, TokenizerFiles.Create(tokenizer));
    }

    /// <summary>An evaluator over a model folder (a checkpoint, a Hugging Face folder or a PEFT adapter folder), on the
    /// CPU: what <c>rlhf eval</c> scores. <paramref name="verified"/>: the caller just verified the folder's manifest.</summary>
    public static PolicyEvaluator FromFolder(string folder, string tokenizer, string dtype = "fp32", bool verified = false)
    {
        var model = ModelFactory.LoadFolder(folder, ModelFactory.ParseComputeType(dtype), CPU, verified);
        try
        {
            model.StoreWeightsInComputeType();
            model.eval();
            return new PolicyEvaluator(model, TokenizerFiles.Create(tokenizer));
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Loads full weights: the whole policy (any adapters this copy holds are reset to zero).</summary>
    public void LoadWeights(IReadOnlyList<TensorBytes> weights)
    {
        ModelFactory.LoadWeights(model, weights, "published policy");
        if (model.Lora is not null) Lora.ZeroAdapters(model);
    }

    /// <summary>The base weights as this copy holds them, in its compute dtype (adapters left out): what a delta
    /// against the version it holds applies to.</summary>
    public IReadOnlyList<TensorBytes> ExportWeights() => ModelFactory.ExportWeights(model);

    /// <summary>Completions for rows that each name their adapter (null: the bare base), all in one batch over one
    /// base (multi-LoRA serving). The bank is built for the call: adapters are a few small tensors, and a
    /// sampler's set of adapters changes with every published version anyway.</summary>
    public GenerationResult GenerateForAdapters(IReadOnlyList<string> prompts, IReadOnlyList<string?> rowAdapters,
        IReadOnlyList<NamedAdapter> adapters, SamplingOptions options)
    {
        if (prompts.Count != rowAdapters.Count) throw new ArgumentException($"{prompts.Count} prompts for {rowAdapters.Count} adapter names");
        using var bank = AdapterBank.Install(model, adapters);
        using var route = bank.Route(rowAdapters);
        var ids = prompts.Select(p => EncodedExample.EncodePrompt(tokenizer, p)).ToArray();
        return Sampler.Generate(model, ids, options with { StopTokens = tokenizer.StopIds }, padId: tokenizer.PadId);
    }

    /// <summary>Loads LoRA adapter tensors on top of the base already loaded (adapter-only weight sync). The first
    /// adapter attaches branches of <paramref name="settings"/>' shape; the base stays dense here (a QLoRA learner
    /// publishes its NF4 base dequantised, so this copy computes the same function).</summary>
    public void LoadAdapter(LoraSettings settings, IReadOnlyList<TensorBytes> adapter)
    {
        if (model.Lora is null) Lora.Attach(model, settings with { QuantizeBase = false, Dropout = 0 }, seed: 0);
        Lora.LoadAdapter(model, adapter, "published adapter");
    }

    /// <param name="progress">Called with (examples done, examples in all) after each batch: a long evaluation's
    /// progress on a terminal.</param>
    public EvalResult Evaluate(IReadOnlyList<PromptCompletion> examples, IAnswerVerifier verifier, int maxNewTokens,
        Action<int, int>? progress = null)
    {
        var clock = Stopwatch.StartNew();
        var completions = Complete(examples.Select(e => e.Prompt).ToArray(), maxNewTokens, progress);
        int correct = examples.Where((e, i) => verifier.IsCorrect(e, completions[i])).Count();
        return new EvalResult(examples.Count, correct, examples.Count == 0 ? 0 : (double)correct / examples.Count, clock.Elapsed.TotalSeconds);
    }

    /// <summary>Greedy completions (decoded, stop tokens removed) for each prompt.</summary>
    public string[] Complete(IReadOnlyList<string> prompts, int maxNewTokens, Action<int, int>? progress = null)
    {
        var stops = tokenizer.StopIds.ToHashSet();
        var options = new SamplingOptions { Greedy = true, MaxNewTokens = maxNewTokens, StopTokens = [.. stops] };
        var results = new List<string>(prompts.Count);
        foreach (var chunk in prompts.Chunk(EvalBatch))
        {
            var ids = chunk.Select(p => EncodedExample.EncodePrompt(tokenizer, p)).ToArray();
            var generated = Sampler.Generate(model, ids, options, padId: tokenizer.PadId);
            results.AddRange(generated.Ids.Select(g => tokenizer.Decode(g.Where(t => !stops.Contains(t)))));
            progress?.Invoke(results.Count, prompts.Count);
        }
        return results.ToArray();
    }

    /// <summary>G sampled completions per prompt with behaviour log-probs (a rollout sampler's job).</summary>
    public RolloutBatch SampleGroups(IReadOnlyList<PromptCompletion> prompts, int groupSize, SamplingOptions options, long policyVersion) =>
        GroupSampler.Sample(model, tokenizer, prompts, groupSize, options, policyVersion);

    /// <summary>Per-row log-probs of the completions under the held weights (a reference model's job).</summary>
    public float[][] CompletionLogProbs(RolloutBatch batch, double temperature) =>
        GrpoLearner.RowLogProbs(model, batch, temperature, tokenizer.PadId);

    /// <summary>Sequence log-probs of each pair's chosen and rejected completions (a DPO reference's job).</summary>
    public (float Chosen, float Rejected)[] PairLogProbs(IReadOnlyList<PreferencePair> pairs) =>
        Preference.PreferenceLogProbs.Rows(model, tokenizer, pairs);

    public void Dispose() => model.Dispose();
}

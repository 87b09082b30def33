using System.Diagnostics;
using System.Text.Json;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Optim;
using RlhfActors.Training.Parallel;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Tasks;
using RlhfActors.Training.Tokenization;
using RlhfActors.Training.Weights;
using static TorchSharp.torch;

namespace RlhfActors.Training.Sft;

/// <summary>Where a policy's weights start: a Hugging Face folder, or a fresh initialisation of a config.</summary>
public sealed record ModelSource
{
    public string? Path { get; init; }
    public ModelConfig? Config { get; init; }
    /// <summary>Compute dtype: "fp32" or "bf16". fp32 by default: measured on this 2-core CPU, the built-in tasks' small decoders train faster in fp32 (15.7k vs 11.5k tok/s) and learn more per step (3-digit addition after 6000 steps: 100% vs 65.5%); bf16 pays off once matrix products dominate (sft-step bench, hidden 768: 2.6x faster). See README.</summary>
    public string DType { get; init; } = "fp32";
    /// <summary><see cref="Path"/>'s manifest (when it has one) was verified just before this load.</summary>
    public bool Verified { get; init; }
}

/// <param name="Peft">LoRA / QLoRA adapters trained in this stage on a frozen base; null = full fine-tuning.</param>
public sealed record SftLearnerSpec(ModelSource Model, string Tokenizer, IReadOnlyList<PromptCompletion> Train,
    SftOptions Options, int Seed, string Device = "cpu", LoraSettings? Peft = null);

/// <summary>Checkpoint written by a learner: folder and the manifest's hashes.</summary>
public sealed record CheckpointInfo(string Path, int Step, string ManifestSha256);

/// <summary>
/// Supervised fine-tuning of one policy: shuffled epochs over the encoded examples, token-mean NLL
/// (completion-only by default), AdamW with warm-up + cosine schedule, global-norm gradient clipping.
/// All TorchSharp work; not thread-safe — one device worker thread calls it.
/// </summary>
public sealed class SftLearner : IDisposable
{
    readonly DecoderModel model;
    readonly AdamW optimizer;
    readonly ITokenizer tokenizer;
    readonly SftOptions options;
    readonly WarmupCosineSchedule schedule;
    readonly Device device;
    readonly int seed;
    readonly EpochSampler<EncodedExample> data;
    readonly FiniteUpdates finite;

    SftLearner(DecoderModel model, ITokenizer tokenizer, EncodedExample[] examples, SftOptions options, int seed, Device device)
    {
        this.model = model;
        this.tokenizer = tokenizer;
        this.options = options;
        this.seed = seed;
        this.device = device;
        optimizer = new AdamW(model.TrainableParameters(), options.Beta1, options.Beta2, 1e-8, options.WeightDecay);
        finite = new FiniteUpdates(options.MaxNonfiniteSteps, "sft");
        schedule = new WarmupCosineSchedule(options.LearningRate, options.WarmupSteps, options.Steps, options.MinLearningRateRatio);
        data = new EpochSampler<EncodedExample>(examples, seed);
    }

    public static SftLearner Create(SftLearnerSpec spec)
    {
        ValidateOptions(spec.Options);
        if (spec.Train.Count == 0) throw new ArgumentException("no training examples");
        var tokenizer = TokenizerFiles.Create(spec.Tokenizer);
        var device = new Device(spec.Device);
        var model = ModelFactory.Create(spec.Model, tokenizer.VocabSize, spec.Seed, device);
        if (spec.Peft is not null) Lora.Attach(model, spec.Peft, StableSeed.Derive(spec.Seed, Lora.SftSeedStream));
        var encoded = spec.Train.Select(e => EncodedExample.Encode(tokenizer, e)).ToArray();
        int longest = encoded.Max(e => e.Length);
        if (longest > model.Config.MaxPositionEmbeddings)
            throw new ArgumentException($"a training example is {longest} tokens, more than max_position_embeddings ({model.Config.MaxPositionEmbeddings})");
        return new SftLearner(model, tokenizer, encoded, spec.Options, spec.Seed, device);
    }

    static void ValidateOptions(SftOptions o)
    {
        void Require(bool ok, string field, object value) { if (!ok) throw new ArgumentException($"sft.{field} is out of range (got {value})"); }
        Require(o.Steps > 0, "steps", o.Steps);
        Require(o.BatchSize > 0, "batch_size", o.BatchSize);
        Require(o.LearningRate > 0, "learning_rate", o.LearningRate);
        Require(o.WarmupSteps >= 0, "warmup_steps", o.WarmupSteps);
        Require(o.MinLearningRateRatio is >= 0 and <= 1, "min_learning_rate_ratio", o.MinLearningRateRatio);
        Require(o.WeightDecay >= 0, "weight_decay", o.WeightDecay);
        Require(o.Beta1 is >= 0 and < 1, "beta1", o.Beta1);
        Require(o.Beta2 is >= 0 and < 1, "beta2", o.Beta2);
        Require(o.MaxGradNorm >= 0, "max_grad_norm", o.MaxGradNorm);
    }

    public ModelConfig Config => model.Config;
    public DecoderModel Model => model;
    public ITokenizer Tokenizer => tokenizer;
    public int StepsDone { get; private set; }

    /// <param name="group">A data-parallel group this learner is one rank of (null: alone). Every rank draws the same
    /// global batch (same seed, same data order), trains on its shard with the global token count as the normaliser,
    /// and the group sums the gradients before the clip, so all ranks apply the whole batch's update.</param>
    public SftStepMetrics Step(IGradientReducer? group = null)
    {
        var clock = Stopwatch.StartNew();
        // An update the group could not finish (a rank lost) is tried again on the same batch.
        return data.WithNext(options.BatchSize, batch => Step(batch, group, clock));
    }

    SftStepMetrics Step(IReadOnlyList<EncodedExample> global, IGradientReducer? group, Stopwatch clock)
    {
        var shard = group?.Shard ?? DataShard.Whole;
        var batch = SftBatch.Build(shard.Slice(global), tokenizer.PadId, options.CompletionOnlyLoss);
        long? globalTokens = shard.IsWhole ? null : SftBatch.LossTokens(global, options.CompletionOnlyLoss);
        int step = StepsDone + 1;
        double lr = schedule.At(step);
        double loss, gradNorm, tokens;
        using (var scope = NewDisposeScope())
        {
            model.train();
            var (inputs, targets, mask) = batch.ToTensors(device);
            var lossTensor = SftLoss.TokenMeanNll(model.Forward(inputs), targets, mask, globalTokens);
            optimizer.ZeroGrad();
            lossTensor.backward();
            var trainable = model.TrainableParameters().Select(p => p.Param).ToArray();
            // Alone: the values as they are. In a group: the sums over ranks (gradients in place), the same on every rank.
            var summed = GradientBuffer.SumOverGroup(group, trainable, lossTensor.item<float>(), batch.RealTokens);
            (loss, tokens) = (summed[0], summed[1]);
            gradNorm = FiniteUpdates.ClipGradients(trainable, options.MaxGradNorm);
            if (finite.Admit(loss, gradNorm, step)) optimizer.Step(lr);
        }
        StepsDone = step;
        return new SftStepMetrics(step, loss, lr, gradNorm, (long)tokens, clock.Elapsed.TotalSeconds);
    }

    /// <summary>The policy as a plain model (Hugging Face names): under LoRA the adapters merged into the base.</summary>
    public IReadOnlyList<TensorBytes> ExportWeights() => model.Lora is null ? ModelFactory.ExportWeights(model) : Lora.ExportMerged(model);

    /// <summary>Writes a Hugging Face folder + optimizer state + trainer state + manifest under <paramref name="directory"/>.
    /// <paramref name="provenance"/> (config hash, dataset hash, …) goes into the manifest. Under LoRA the weights are
    /// the merged policy and the adapter is added as <c>adapter/</c>, its base_model_name_or_path
    /// <paramref name="baseModelPath"/> (null when the base is not a folder a reader could load).</summary>
    public CheckpointInfo SaveCheckpoint(string directory, IReadOnlyDictionary<string, string> provenance, string? baseModelPath = null,
        IReadOnlyDictionary<string, byte[]>? extraFiles = null)
    {
        var state = new TrainerState(StepsDone, seed, data.Epoch, data.Cursor, optimizer.StepCount);
        return CheckpointWriter.Write(directory, model.Config, ExportWeights(), optimizer.ExportState(),
            JsonSerializer.Serialize(state), StepsDone, provenance,
            extraFiles: TokenizerFiles.FilesFor(tokenizer).Concat(extraFiles ?? new Dictionary<string, byte[]>()).ToDictionary(),
            adapter: model.Lora is { } settings ? new PeftAdapter(settings, Lora.ExportAdapter(model), baseModelPath) : null,
            progress: new TrainerProgress(options.Steps, options.BatchSize, data.Epochs));
    }

    /// <summary>Restores weights, optimizer moments and the data cursor from a verified checkpoint.</summary>
    public void LoadCheckpoint(string directory) => LoadCheckpoint(CheckpointReader.Open(directory), directory);

    /// <summary>Restores weights, optimizer moments and the data cursor from <paramref name="checkpoint"/> (opened and
    /// verified from <paramref name="directory"/>).</summary>
    public void LoadCheckpoint(LoadedCheckpoint checkpoint, string directory)
    {
        var state = JsonSerializer.Deserialize<TrainerState>(checkpoint.TrainerStateJson)
            ?? throw new InvalidDataException($"{directory}: empty trainer_state.json");
        if (state.Seed != seed)
            throw new InvalidDataException($"{directory}: checkpoint was trained with seed {state.Seed}, this run uses {seed}");
        LoadPolicy(checkpoint, directory);
        optimizer.LoadState(checkpoint.OptimizerState, state.OptimizerSteps, directory);
        StepsDone = state.Step;
        data.Restore(state.Epoch, state.Cursor);
    }

    /// <summary>The policy of a later stage's checkpoint (<paramref name="checkpoint"/>: a GRPO one), with this SFT
    /// stage marked done after <paramref name="stepsDone"/> steps: that stage's optimizer and data are not needed
    /// again. Full fine-tuning only.</summary>
    public void LoadLaterStagePolicy(LoadedCheckpoint checkpoint, string directory, int stepsDone)
    {
        if (model.Lora is not null || checkpoint.Adapter is not null)
            throw new InvalidDataException($"{directory}: resuming a later stage of a LoRA run is not supported yet");
        ModelFactory.LoadWeights(model, checkpoint.Weights, directory);
        StepsDone = stepsDone;
    }

    /// <summary>Full fine-tuning: the weights. LoRA: the checkpoint's weights are merged, so the base is recovered by
    /// un-merging <c>adapter/</c> and the adapter is loaded into the branches the optimizer moments belong to
    /// (loading the merged weights as the base would apply the adapter twice once it is loaded).</summary>
    void LoadPolicy(LoadedCheckpoint checkpoint, string directory)
    {
        if (model.Lora is null)
        {
            if (checkpoint.Adapter is not null)
                throw new InvalidDataException($"{directory}: the checkpoint holds a LoRA adapter, this run has no peft section");
            ModelFactory.LoadWeights(model, checkpoint.Weights, directory);
            return;
        }
        var adapter = checkpoint.Adapter
            ?? throw new InvalidDataException($"{directory}: this run trains LoRA adapters, the checkpoint has no {CheckpointFiles.AdapterFolder}/ to resume them from");
        var mine = model.Lora;
        if (!adapter.Settings.SameAdapterShape(mine))
            throw new InvalidDataException($"{directory}: {CheckpointFiles.AdapterFolder}/{PeftAdapterFolder.ConfigFile} has r {adapter.Settings.Rank}, lora_alpha {adapter.Settings.Alpha}, target_modules [{string.Join(", ", adapter.Settings.TargetModules)}]; this run's peft section has r {mine.Rank}, alpha {mine.Alpha}, target_modules [{string.Join(", ", mine.TargetModules)}]");
        ModelFactory.LoadWeights(model, Lora.Unmerge(checkpoint.Weights, adapter, directory), directory);
        Lora.LoadAdapter(model, adapter.Tensors, Path.Combine(directory, CheckpointFiles.AdapterFolder));
    }

    sealed record TrainerState(int Step, int Seed, int Epoch, int Cursor, long OptimizerSteps);

    public void Dispose()
    {
        optimizer.Dispose();
        model.Dispose();
    }
}

using System.Collections.Immutable;
using System.Text.Json.Serialization;

namespace RlhfActors.Abstractions.Config;

/// <summary>
/// One experiment, as written in its YAML file (<c>experiments/*.yaml</c>). Field names here are the YAML keys in
/// PascalCase (<c>learning_rate</c> ⇄ <see cref="SftSection.LearningRate"/>). Paths are absolute by the time a
/// config reaches a grain: the loader resolves relative ones against the current directory.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.ExperimentConfig")]
public sealed record ExperimentConfig
{
    /// <summary>Experiment name; also the experiment's grain key. Letters, digits, '.', '_' and '-'.</summary>
    [Id(0)] public string Name { get; init; } = "";
    /// <summary>"sft"; or an SFT warm-up of <c>sft.steps</c> (possibly 0) followed by "grpo" (<c>grpo.steps</c>), "ppo"
    /// (a reward model, then <c>ppo.steps</c> with a critic), "dpo" (<c>dpo.steps</c> on labelled pairs) or "rlaif" (a
    /// judge, then <c>rlaif.rounds</c> of online DPO on the judge's pairs), "distill" (<c>distill.steps</c> learning
    /// from a frozen teacher's log-probs on the student's own samples) or "online_dpo" (<c>online_dpo.steps</c> of
    /// sample two → judge → one DPO update).</summary>
    [Id(1)] public Algorithm Algorithm { get; init; } = Algorithm.Sft;
    [Id(2)] public int Seed { get; init; } = 1;
    [Id(3)] public ModelSection Model { get; init; } = new();
    [Id(4)] public DataSection Data { get; init; } = new();
    [Id(5)] public SftSection Sft { get; init; } = new();
    [Id(6)] public EvalSection Eval { get; init; } = new();
    [Id(7)] public CheckpointSection Checkpoint { get; init; } = new();
    /// <summary>Folder that receives checkpoints (<c>checkpoint-&lt;step&gt;</c>).</summary>
    [Id(8)] public string OutputDir { get; init; } = "";
    /// <summary>The YAML file this config was read from, when it was; for messages only.</summary>
    [Id(9)] public string? SourceFile { get; init; }
    /// <summary>The GRPO stage; read when <see cref="Algorithm"/> is "grpo".</summary>
    [Id(10)] public GrpoSection Grpo { get; init; } = new();
    /// <summary>LoRA / QLoRA adapters instead of full fine-tuning; type none by default.</summary>
    [Id(11)] public PeftSection Peft { get; init; } = new();
    /// <summary>The reward-model stage of a "ppo" run, or the judge's training in an "rlaif" run.</summary>
    [Id(12)] public RewardModelSection RewardModel { get; init; } = new();
    [Id(13)] public DpoSection Dpo { get; init; } = new();
    [Id(14)] public PpoSection Ppo { get; init; } = new();
    [Id(15)] public RlaifSection Rlaif { get; init; } = new();
    /// <summary>Updates whose loss or gradient norm is NaN or infinite are skipped; past this many (in any one stage)
    /// the run fails, naming the step and stage, with its last finite weights. 3 rides out a rare overflow; a diverged
    /// run (learning_rate: 1e9) fails within a few steps instead of training on NaN and reporting success.</summary>
    [Id(16)] public int MaxNonfiniteSteps { get; init; } = 3;
    /// <summary>How policy versions travel to the registry and to the grains that pull them: chunk size, chunks in
    /// flight, delta sync.</summary>
    [Id(17)] public WeightSyncSection WeightSync { get; init; } = new();
    /// <summary>Data-parallel learners (<c>parallel:</c>).</summary>
    [Id(18)] public ParallelSection Parallel { get; init; } = new();
    /// <summary>The run's record of itself: metrics lines, report sinks, rollout traces (top-level YAML keys).</summary>
    [Id(19)] public LoggingSection Logging { get; init; } = new();
    /// <summary>The distillation stage; read when <see cref="Algorithm"/> is "distill".</summary>
    [Id(20)] public DistillSection Distill { get; init; } = new();
    /// <summary>The online DPO stage (<c>online_dpo:</c>); read when <see cref="Algorithm"/> is "online_dpo".</summary>
    [Id(21)] public OnlineDpoSection OnlineDpo { get; init; } = new();

    public bool IsGrpo => Algorithm == Algorithm.Grpo;
    public bool IsPpo => Algorithm == Algorithm.Ppo;
    public bool IsDpo => Algorithm == Algorithm.Dpo;
    public bool IsRlaif => Algorithm == Algorithm.Rlaif;
    public bool IsDistill => Algorithm == Algorithm.Distill;
    public bool IsOnlineDpo => Algorithm == Algorithm.OnlineDpo;
    /// <summary>The judge of the run's judged rounds: <c>online_dpo.judge</c> for online DPO, <c>rlaif.judge</c> otherwise.</summary>
    public JudgeSection Judge => IsOnlineDpo ? OnlineDpo.Judge : Rlaif.Judge;
    /// <summary>Every algorithm but plain SFT: the SFT section is a warm-up (possibly of 0 steps) before the stage that
    /// the algorithm names.</summary>
    public bool HasWarmUp => Algorithm != Algorithm.Sft;
    /// <summary>A reward model is trained (PPO's reward, or the judge of an RLAIF run whose judge is local).</summary>
    public bool TrainsRewardModel => IsPpo || (IsRlaif || IsOnlineDpo) && Judge.Type == JudgeType.RewardModel;

    /// <summary>Policy updates of every stage: the SFT warm-up, then GRPO, PPO, DPO or the RLAIF rounds' DPO updates.
    /// The reward model's steps are not policy updates and are not counted.</summary>
    public int TotalSteps => Sft.Steps + Algorithm switch
    {
        Algorithm.Grpo => Grpo.Steps,
        Algorithm.Ppo => Ppo.Steps,
        Algorithm.Dpo => Dpo.Steps,
        Algorithm.Rlaif => Rlaif.Rounds * Rlaif.StepsPerRound,
        Algorithm.Distill => Distill.Steps,
        Algorithm.OnlineDpo => OnlineDpo.Steps,
        _ => 0,
    };
}

/// <summary>What an experiment runs (<c>algorithm:</c>).</summary>
public enum Algorithm { Sft, Grpo, Ppo, Dpo, Rlaif, Distill, OnlineDpo }

/// <summary>Compute dtype of the policy (<c>model.dtype</c>).</summary>
public enum ModelDType { Bf16, Fp32 }

/// <summary>The policy: where its weights start, its dtype and its tokenizer.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.ModelSection")]
public sealed record ModelSection
{
    public const string Scratch = "scratch";

    /// <summary>"scratch" (fresh initialisation of <see cref="ConfigJson"/>) or a Hugging Face model folder.</summary>
    [Id(0)] public string Init { get; init; } = Scratch;
    /// <summary>Compute dtype: "fp32" or "bf16". fp32 by default: measured on this 2-core CPU, the built-in tasks' small decoders train faster in fp32 (15.7k vs 11.5k tok/s) and learn more per step (3-digit addition after 6000 steps: 100% vs 65.5%); bf16 pays off once matrix products dominate (sft-step bench, hidden 768: 2.6x faster). See README.</summary>
    [Id(1), JsonPropertyName("dtype")] public ModelDType DType { get; init; } = ModelDType.Fp32;
    /// <summary>"char", or a tokenizer.json / folder holding one. Null: "char" for scratch, the init folder otherwise.</summary>
    [Id(2)] public string? Tokenizer { get; init; }
    /// <summary>
    /// The YAML <c>model.config</c> mapping as JSON text, with Hugging Face config.json field names. Kept as text
    /// because its schema belongs to the model code (src/Training), which the Abstractions must not reference.
    /// <c>vocab_size</c>, <c>bos_token_id</c> and <c>eos_token_id</c> come from the tokenizer when omitted.
    /// </summary>
    [Id(3), JsonPropertyName("config")] public string? ConfigJson { get; init; }
    /// <summary>The rollout samplers' compute dtype (their inference copies, as vLLM's bf16 engine next to fp32
    /// masters); null: <see cref="DType"/>. A different one makes the behaviour log-probs differ from the learner's:
    /// see <c>grpo.vllm_importance_sampling_correction</c>. Held-out evaluation runs on the samplers, so in this dtype.</summary>
    [Id(4), JsonPropertyName("sampler_dtype")] public ModelDType? SamplerDType { get; init; }

    /// <summary>The samplers' dtype after the default.</summary>
    public ModelDType ResolvedSamplerDType => SamplerDType ?? DType;
    public bool SamplerDTypeDiffers => ResolvedSamplerDType != DType;

    public bool IsScratch => Init == Scratch;
    /// <summary>The tokenizer spec after defaults.</summary>
    public string ResolvedTokenizer => Tokenizer ?? (IsScratch ? "char" : Init);

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        rules.Check(Init.Length > 0, "model.init", $"must be '{Scratch}' or a Hugging Face model folder", Init);
        rules.Check(Enum.IsDefined(DType), "model.dtype", ConfigNames.OneOf<ModelDType>(), DType);
        rules.Check(SamplerDType is null || Enum.IsDefined(SamplerDType.Value), "model.sampler_dtype", ConfigNames.OneOf<ModelDType>(), SamplerDType);
        rules.Check(Tokenizer is null || Tokenizer.Length > 0, "model.tokenizer", "must be 'char' or a path", Tokenizer);
        if (IsScratch)
            rules.Check(!string.IsNullOrWhiteSpace(ConfigJson), "model.config", "is required when model.init is scratch", null);
        else
            rules.Check(ConfigJson is null, "model.config", "is only read when model.init is scratch; the folder's config.json is used", "a mapping");
    }
}

/// <summary>Training and held-out examples: a built-in task, or JSONL files with TRL's field names.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.DataSection")]
public sealed record DataSection
{
    /// <summary>Most examples a built-in task may generate for training. Every process that reads the data (the
    /// learner, each sampler) holds all of them in memory, at roughly 100-200 bytes an example for the built-in tasks'
    /// short prompts: 10 million is 1-2 GB per process, a thousand times the default of 10,000.</summary>
    public const int MaxTrainExamples = 10_000_000;
    /// <summary>Most held-out examples, five thousand times the default of 200: they are drawn as distinct prompts
    /// (kept in a set while drawing), and every evaluation generates a completion for each of them.</summary>
    public const int MaxEvalExamples = 1_000_000;

    /// <summary>Built-in task name ("addition", "reverse", …). Exactly one of Task and TrainFile is set.</summary>
    [Id(0)] public string? Task { get; init; }
    /// <summary>Task difficulty parameters, e.g. digits: 3. Sorted so the config hashes the same every time.</summary>
    [Id(1)] public ImmutableSortedDictionary<string, int> TaskParameters { get; init; } = ImmutableSortedDictionary<string, int>.Empty;
    [Id(2)] public int TrainExamples { get; init; } = 10_000;
    [Id(3)] public int EvalExamples { get; init; } = 200;
    [Id(4)] public string? TrainFile { get; init; }
    [Id(5)] public string? EvalFile { get; init; }
    /// <summary>
    /// Fraction (0–1) of the SFT demonstrations whose completion comes from a flawed teacher that drops carries
    /// (built-in addition task only). Models distilling from an imperfect teacher; held-out examples and the GRPO
    /// rewards' reference answers always stay exact, so RL with a verifier can exceed the teacher. 0 = exact data.
    /// </summary>
    [Id(6)] public double TeacherCarryDrop { get; init; }
    /// <summary>The longest line read from any JSONL file of the run (data and pairs files), in bytes. A mebibyte is
    /// hundreds of times a long chat example and bounds what one line makes a reader buffer; raise it for long
    /// documents.</summary>
    [Id(7)] public int MaxLineBytes { get; init; } = 1 << 20;

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        if (Task is null == TrainFile is null)
            rules.Add(new ConfigError("data", "data must set exactly one of 'task' and 'train_file'"));
        rules.Check(Task is null || Task.Length > 0, "data.task", "must be a task name", Task);
        rules.Check(TrainFile is null || TrainFile.Length > 0, "data.train_file", "must be a path", TrainFile);
        rules.Check(EvalFile is null || TrainFile is not null, "data.eval_file", "needs data.train_file", EvalFile);
        rules.Check(TaskParameters.Count == 0 || Task is not null, "data.task_parameters", "needs data.task", "a mapping");
        rules.CheckCount(TrainExamples, "data.train_examples", MaxTrainExamples);
        rules.CheckCount(EvalExamples, "data.eval_examples", MaxEvalExamples);
        rules.Check(TeacherCarryDrop is >= 0 and <= 1, "data.teacher_carry_drop", "must be between 0 and 1", TeacherCarryDrop);
        rules.Check(TeacherCarryDrop == 0 || Task == "addition", "data.teacher_carry_drop", "needs data.task: addition", Task);
        rules.Check(MaxLineBytes is >= 1 << 10 and <= 1 << 30, "data.max_line_bytes", "must be between 1024 (1 KiB) and 1073741824 (1 GiB)", MaxLineBytes);
    }
}

/// <summary>Supervised fine-tuning hyperparameters; names follow TRL's SFTConfig / HF TrainingArguments.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.SftSection")]
public sealed record SftSection
{
    [Id(0)] public int Steps { get; init; } = 1000;
    [Id(1)] public int BatchSize { get; init; } = 64;
    [Id(2)] public double LearningRate { get; init; } = 1e-3;
    [Id(3)] public int WarmupSteps { get; init; } = 50;
    [Id(4)] public double MinLearningRateRatio { get; init; } = 0.1;
    [Id(5)] public double WeightDecay { get; init; } = 0.1;
    [Id(6)] public double AdamBeta1 { get; init; } = 0.9;
    [Id(7)] public double AdamBeta2 { get; init; } = 0.95;
    [Id(8)] public double MaxGradNorm { get; init; } = 1.0;
    [Id(9)] public bool CompletionOnlyLoss { get; init; } = true;

    /// <summary>This section's rules; <paramref name="warmUpBefore"/> is the stage the SFT steps warm up for (0 steps
    /// allowed), null when SFT is the whole run.</summary>
    public void Validate(ConfigRules rules, Algorithm? warmUpBefore)
    {
        if (warmUpBefore is { } algorithm) rules.Check(Steps >= 0, "sft.steps", $"must be >= 0 (the SFT warm-up before {algorithm.Yaml()}; 0 = none)", Steps);
        else rules.Check(Steps > 0, "sft.steps", "must be > 0", Steps);
        rules.Check(BatchSize > 0, "sft.batch_size", "must be > 0", BatchSize);
        rules.Check(LearningRate > 0 && double.IsFinite(LearningRate), "sft.learning_rate", "must be > 0", LearningRate);
        rules.Check(WarmupSteps >= 0 && (WarmupSteps <= Steps || warmUpBefore is not null && Steps == 0), "sft.warmup_steps", "must be between 0 and sft.steps", WarmupSteps);
        rules.Check(MinLearningRateRatio is >= 0 and <= 1, "sft.min_learning_rate_ratio", "must be between 0 and 1", MinLearningRateRatio);
        rules.Check(WeightDecay >= 0 && double.IsFinite(WeightDecay), "sft.weight_decay", "must be >= 0", WeightDecay);
        rules.Check(AdamBeta1 is >= 0 and < 1, "sft.adam_beta1", "must be in [0, 1)", AdamBeta1);
        rules.Check(AdamBeta2 is >= 0 and < 1, "sft.adam_beta2", "must be in [0, 1)", AdamBeta2);
        rules.Check(MaxGradNorm > 0 && double.IsFinite(MaxGradNorm), "sft.max_grad_norm", "must be > 0", MaxGradNorm);
    }
}

/// <summary>Held-out evaluation: greedy generation scored by the task's verifier.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.EvalSection")]
public sealed record EvalSection
{
    /// <summary>Steps between evaluations; 0 = only before and after training.</summary>
    [Id(0)] public int Every { get; init; }
    [Id(1)] public int MaxNewTokens { get; init; } = 32;
    /// <summary>Earlier tasks to watch for forgetting, evaluated with the main held-out set.</summary>
    [Id(2)] public System.Collections.Immutable.ImmutableArray<WatchTask> Watch { get; init; } = [];

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        for (int i = 0; i < Watch.Length; i++)
        {
            rules.Check(Watch[i].Task.Length > 0, $"eval.watch[{i}].task", "must name a built-in task", Watch[i].Task);
            rules.CheckCount(Watch[i].EvalExamples, $"eval.watch[{i}].eval_examples", DataSection.MaxEvalExamples);
        }
        rules.Check(Every >= 0, "eval.every", "must be >= 0 (0 = only before and after training)", Every);
        rules.Check(MaxNewTokens > 0, "eval.max_new_tokens", "must be > 0", MaxNewTokens);
    }
}

[GenerateSerializer, Immutable, Alias("rlhf.CheckpointSection")]
public sealed record CheckpointSection
{
    /// <summary>Steps between checkpoints; 0 = only at the end (there is always one at the end). A run that loses a
    /// worker resumes from the newest checkpoint, so this bounds the work at risk: 500 steps are 20–40 s of the
    /// built-in tasks' training on a 2-core CPU. A model whose step takes seconds wants fewer.</summary>
    [Id(0)] public int Every { get; init; } = 500;

    /// <summary>How many checkpoints to keep, the newest; older ones are deleted once a newer one is written.
    /// 0 keeps every one.</summary>
    [Id(1)] public int Keep { get; init; } = 3;

    /// <summary>This section's rules, each naming its YAML field (the one home of the field's validation).</summary>
    public void Validate(ConfigRules rules)
    {
        rules.Check(Every >= 0, "checkpoint.every", "must be >= 0 (0 = only at the end)", Every);
        rules.Check(Keep >= 0, "checkpoint.keep", "must be >= 0 (0 = keep every checkpoint)", Keep);
    }
}

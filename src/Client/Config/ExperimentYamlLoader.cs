using System.Collections.Immutable;
using System.Diagnostics;
using System.Reflection;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;
using System.Text.RegularExpressions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Grains.Specs;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.IO;
using RlhfActors.Training.Model;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace RlhfActors.Client.Config;

/// <summary>
/// Reads an experiment YAML file into an <see cref="ExperimentConfig"/>. Keys are snake_case
/// (<c>learning_rate</c>); unknown keys are errors (a typo must not silently fall back to a default); every error
/// names the file, the line and the field path. YamlDotNet's representation model is walked by hand rather than
/// deserialized into classes, because that keeps the line of every value for errors found after parsing.
/// <para>
/// Relative paths (model.init, model.tokenizer, data.train_file, data.eval_file, output_dir) resolve against the
/// current directory, not the YAML file's folder, like every other path given to a command-line tool; the loader
/// makes them absolute so silos with another working directory read the same files. output_dir defaults to
/// <c>runs/&lt;name&gt;</c>.
/// </para>
/// </summary>
public static partial class ExperimentYamlLoader
{
    /// <summary>Reads and validates <paramref name="path"/>. Throws <see cref="ConfigLoadException"/> listing every problem.</summary>
    public static ExperimentConfig Load(string path, bool readInputs = false)
    {
        if (!File.Exists(path))
            throw new ConfigLoadException(path, [$"{path}: experiment file not found"]);
        string text;
        try { text = ReadBounded(path); }
        catch (IOException e) { throw new ConfigLoadException(path, [$"{path}: cannot read: {e.Message}"]); }
        return Parse(text, path, readInputs);
    }

    /// <summary>The file's text, read no further than <see cref="YamlBounds.MaxFileBytes"/> + 1 bytes: a length is
    /// checked before reading, and the read itself stops there for files whose length says nothing (a pipe, /dev/zero).</summary>
    static string ReadBounded(string path)
    {
        using var file = File.OpenRead(path);
        if (file.CanSeek && file.Length > YamlBounds.MaxFileBytes) throw TooLarge(path, $"{file.Length} bytes");
        var bytes = new byte[YamlBounds.MaxFileBytes + 1];
        int read = file.ReadAtLeast(bytes, bytes.Length, throwOnEndOfStream: false);
        if (read > YamlBounds.MaxFileBytes) throw TooLarge(path, $"more than {YamlBounds.MaxFileBytes} bytes");
        // As File.ReadAllText: UTF-8 unless a byte order mark says otherwise.
        using var reader = new StreamReader(new MemoryStream(bytes, 0, read), System.Text.Encoding.UTF8, detectEncodingFromByteOrderMarks: true);
        return reader.ReadToEnd();

        static ConfigLoadException TooLarge(string path, string size) =>
            new(path, [$"{path}: YAML too large: {size} (the limit for an experiment file is {YamlBounds.MaxFileBytes} bytes)"]);
    }

    /// <summary>Parses YAML text; <paramref name="source"/> names it in errors. <paramref name="readInputs"/> also reads
    /// what the run will read (<see cref="InputChecks"/>: datasets, pairs, token lengths, the judge's key), as
    /// <c>rlhf run</c> does before it starts anything.</summary>
    public static ExperimentConfig Parse(string yaml, string source, bool readInputs = false)
    {
        var context = new LoadContext(source);
        if (yaml.Length > YamlBounds.MaxFileBytes)
        {
            context.Error(null, $"YAML too large: {yaml.Length} characters (the limit for an experiment file is {YamlBounds.MaxFileBytes})");
            context.ThrowIfErrors();
        }
        var stream = new YamlStream();
        try
        {
            // The caps first: building the representation model recurses per nesting level, and reading model.config
            // expands aliases.
            YamlBounds.Check(yaml, context);
            context.ThrowIfErrors();
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException e)
        {
            context.Error(e.Start.Line, $"not valid YAML: {e.Message}");
            context.ThrowIfErrors();
        }
        catch (InvalidOperationException e)
        {
            // YamlDotNet's scanner throws this (without a position) on some malformed flow collections, e.g. "[16".
            context.Error(null, $"not valid YAML ({e.Message}); look for an unclosed [ or {{");
            context.ThrowIfErrors();
        }
        if (stream.Documents.Count != 1 || stream.Documents[0].RootNode is not YamlMappingNode rootNode)
        {
            context.Error(null, "must hold one YAML mapping (name:, algorithm:, model:, data:, sft:, …)");
            context.ThrowIfErrors();
            throw new UnreachableException();
        }

        var root = new MappingReader(context, rootNode, "");
        var config = Read(root, context) with { SourceFile = source };
        root.RejectUnknown();
        context.ThrowIfErrors();

        // The same complete check IExperimentGrain.Start runs, reported at each field's line.
        foreach (var error in ConfigChecks.Errors(config))
            context.FieldError(error.Path, error.Message);
        context.ThrowIfErrors();

        config = ResolvePaths(config, context);
        context.ThrowIfErrors();
        if (readInputs)
        {
            foreach (var error in InputChecks.Errors(config))
                context.FieldError(error.Path, error.Message);
            context.ThrowIfErrors();
        }
        return config;
    }

    static ExperimentConfig Read(MappingReader root, LoadContext context)
    {
        var defaults = new ExperimentConfig();
        var name = root.String("name") ?? "";
        return defaults with
        {
            Name = name,
            Algorithm = root.Enum<Algorithm>("algorithm") ?? defaults.Algorithm,
            Seed = root.Int("seed") ?? defaults.Seed,
            MaxNonfiniteSteps = root.Int("max_nonfinite_steps") ?? defaults.MaxNonfiniteSteps,
            Model = ReadModel(root, context),
            Data = ReadData(root),
            Sft = ReadSft(root),
            Eval = ReadEval(root),
            Checkpoint = ReadCheckpoint(root),
            Grpo = ReadGrpo(root),
            Peft = ReadPeft(root),
            RewardModel = ReadRewardModel(root),
            Dpo = ReadDpo(root),
            Ppo = ReadPpo(root),
            Rlaif = ReadRlaif(root),
            OnlineDpo = ReadOnlineDpo(root),
            WeightSync = ReadWeightSync(root),
            Parallel = ReadParallel(root),
            Logging = ReadLogging(root),
            Distill = ReadDistill(root),
            OutputDir = root.String("output_dir") ?? (name.Length > 0 ? Path.Combine("runs", name) : ""),
        };
    }

    static ModelSection ReadModel(MappingReader root, LoadContext context)
    {
        var defaults = new ModelSection();
        if (root.Mapping("model") is not { } model) return defaults with { Init = "" };
        var section = defaults with
        {
            Init = model.String("init") ?? "",
            DType = model.Enum<ModelDType>("dtype") ?? defaults.DType,
            SamplerDType = model.Enum<ModelDType>("sampler_dtype"),
            Tokenizer = model.String("tokenizer"),
        };
        if (model.RawMapping("config") is { } configNode)
            section = section with { ConfigJson = ReadModelConfig(configNode, model.PathOf("config"), context) };
        model.RejectUnknown();
        return section;
    }

    /// <summary>Hugging Face config.json fields written in YAML, checked against the fields the model code reads.</summary>
    static string ReadModelConfig(YamlMappingNode node, string path, LoadContext context)
    {
        var json = YamlToJson.Convert(node);
        foreach (var (key, value) in node.Children)
        {
            var name = ((YamlScalarNode)key).Value ?? "";
            context.RecordLine($"{path}.{name}", value.Start.Line);
            if (!ModelConfigFields.Contains(name))
                context.Error(key.Start.Line, $"unknown key '{path}.{name}'; known config.json fields: {string.Join(", ", ModelConfigFields.Order())}");
        }
        if (context.HasErrors) return json;

        // Validate now, so a bad architecture stops the run before a silo starts. vocab_size may be left to the
        // tokenizer (filled in by the learner); a placeholder lets the other fields be checked.
        var probe = JsonNode.Parse(json)!.AsObject();
        probe.TryAdd("vocab_size", 1);
        try
        {
            ModelConfig.Parse(probe.ToJsonString(), path);
        }
        catch (InvalidDataException e)
        {
            // ModelConfig says "<source>: field 'hidden_size' must be > 0"; report it as "model.config.hidden_size must be > 0".
            var match = FieldInMessage().Match(e.Message);
            if (match.Success)
            {
                var field = $"{path}.{match.Groups["field"].Value}";
                context.FieldError(field, $"{field} {e.Message[(match.Index + match.Length)..].Trim()}");
            }
            else
            {
                context.FieldError(path, e.Message);
            }
        }
        return json;
    }

    static DataSection ReadData(MappingReader root)
    {
        var defaults = new DataSection();
        if (root.Mapping("data") is not { } data) return defaults;
        var section = defaults with
        {
            Task = data.String("task"),
            TaskParameters = ReadTaskParameters(data),
            TrainExamples = data.Int("train_examples") ?? defaults.TrainExamples,
            EvalExamples = data.Int("eval_examples") ?? defaults.EvalExamples,
            TrainFile = data.String("train_file"),
            EvalFile = data.String("eval_file"),
            TeacherCarryDrop = data.Double("teacher_carry_drop") ?? defaults.TeacherCarryDrop,
            MaxLineBytes = data.Int("max_line_bytes") ?? defaults.MaxLineBytes,
        };
        data.RejectUnknown();
        return section;
    }

    static SftSection ReadSft(MappingReader root)
    {
        var d = new SftSection();
        if (root.Mapping("sft") is not { } sft) return d;
        var section = d with
        {
            Steps = sft.Int("steps") ?? d.Steps,
            BatchSize = sft.Int("batch_size") ?? d.BatchSize,
            LearningRate = sft.Double("learning_rate") ?? d.LearningRate,
            WarmupSteps = sft.Int("warmup_steps") ?? d.WarmupSteps,
            MinLearningRateRatio = sft.Double("min_learning_rate_ratio") ?? d.MinLearningRateRatio,
            WeightDecay = sft.Double("weight_decay") ?? d.WeightDecay,
            AdamBeta1 = sft.Double("adam_beta1") ?? d.AdamBeta1,
            AdamBeta2 = sft.Double("adam_beta2") ?? d.AdamBeta2,
            MaxGradNorm = sft.Double("max_grad_norm") ?? d.MaxGradNorm,
            CompletionOnlyLoss = sft.Bool("completion_only_loss") ?? d.CompletionOnlyLoss,
        };
        sft.RejectUnknown();
        return section;
    }

    static EvalSection ReadEval(MappingReader root)
    {
        var d = new EvalSection();
        if (root.Mapping("eval") is not { } eval) return d;
        var section = d with
        {
            Every = eval.Int("every") ?? d.Every,
            MaxNewTokens = eval.Int("max_new_tokens") ?? d.MaxNewTokens,
            Watch = eval.MappingList("watch") is { Count: > 0 } watch ? [.. watch.Select(ReadWatchTask)] : d.Watch,
        };
        eval.RejectUnknown();
        return section;
    }

    static GrpoSection ReadGrpo(MappingReader root)
    {
        var d = new GrpoSection();
        if (root.Mapping("grpo") is not { } g) return d;
        var section = d with
        {
            Steps = g.Int("steps") ?? d.Steps,
            PromptsPerStep = g.Int("prompts_per_step") ?? d.PromptsPerStep,
            NumGenerations = g.Int("num_generations") ?? d.NumGenerations,
            LearningRate = g.Double("learning_rate") ?? d.LearningRate,
            Beta = g.Double("beta") ?? d.Beta,
            EpsilonLow = g.Double("epsilon") ?? d.EpsilonLow,
            EpsilonHigh = g.Double("epsilon_high") ?? d.EpsilonHigh,
            LossType = g.Enum<GrpoLossType>("loss_type") ?? d.LossType,
            KlEstimator = g.Enum<KlEstimatorType>("kl_estimator") ?? d.KlEstimator,
            ScaleRewards = g.Bool("scale_rewards") ?? d.ScaleRewards,
            AdvantageEstimator = g.Enum<AdvantageEstimatorType>("advantage_estimator") ?? d.AdvantageEstimator,
            NumIterations = g.Int("num_iterations") ?? d.NumIterations,
            Temperature = g.Double("temperature") ?? d.Temperature,
            MaxCompletionLength = g.Int("max_completion_length") ?? d.MaxCompletionLength,
            MaskTruncatedCompletions = g.Bool("mask_truncated_completions") ?? d.MaskTruncatedCompletions,
            OverlongBuffer = g.Int("overlong_buffer") ?? d.OverlongBuffer,
            DynamicSampling = g.Bool("dynamic_sampling") ?? d.DynamicSampling,
            Mode = g.Enum<GrpoMode>("mode") ?? d.Mode,
            MaxStaleness = g.Int("max_staleness") ?? d.MaxStaleness,
            StaleMode = g.Enum<StaleModeType>("stale_mode") ?? d.StaleMode,
            IsCap = g.Double("is_cap") ?? d.IsCap,
            Samplers = g.Int("samplers") ?? d.Samplers,
            WeightDecay = g.Double("weight_decay") ?? d.WeightDecay,
            MaxGradNorm = g.Double("max_grad_norm") ?? d.MaxGradNorm,
            Rewards = [.. g.MappingList("rewards").Select(ReadRewardTerm)],
            ImportanceSamplingLevel = g.Enum<ImportanceSamplingLevelType>("importance_sampling_level") ?? d.ImportanceSamplingLevel,
            VllmImportanceSamplingCorrection = g.Bool("vllm_importance_sampling_correction"),
            VllmImportanceSamplingMode = g.Enum<MismatchModeType>("vllm_importance_sampling_mode") ?? d.VllmImportanceSamplingMode,
            VllmImportanceSamplingClipMin = g.Double("vllm_importance_sampling_clip_min"),
            VllmImportanceSamplingClipMax = g.Double("vllm_importance_sampling_clip_max") ?? d.VllmImportanceSamplingClipMax,
            OffPolicyMaskThreshold = g.Double("off_policy_mask_threshold"),
            MultiObjectiveAggregation = g.Enum<MultiObjectiveAggregationType>("multi_objective_aggregation") ?? d.MultiObjectiveAggregation,
        };
        g.RejectUnknown();
        return section;
    }

    static WatchTask ReadWatchTask(MappingReader item)
    {
        var d = new WatchTask();
        var task = item.String("task") ?? "";
        var watch = d with
        {
            Task = task,
            Name = item.String("name") ?? task,
            TaskParameters = ReadTaskParameters(item),
            EvalExamples = item.Int("eval_examples") ?? d.EvalExamples,
        };
        item.RejectUnknown();
        return watch;
    }

    static ImmutableSortedDictionary<string, int> ReadTaskParameters(MappingReader section)
    {
        var parameters = ImmutableSortedDictionary.CreateBuilder<string, int>(StringComparer.Ordinal);
        if (section.Mapping("task_parameters") is { } taskParameters)
            foreach (var key in taskParameters.Keys.ToList())
                if (taskParameters.Int(key) is { } value) parameters[key] = value;
        return parameters.ToImmutable();
    }

    static PreferenceDataSection ReadPairs(MappingReader section)
    {
        var d = new PreferenceDataSection();
        if (section.Mapping("pairs") is not { } p) return d;
        var pairs = d with
        {
            Task = p.String("task"),
            TaskParameters = ReadTaskParameters(p),
            TrainExamples = p.Int("train_examples"),
            EvalExamples = p.Int("eval_examples"),
            TrainFile = p.String("train_file"),
            EvalFile = p.String("eval_file"),
            SeedOffset = p.Int("seed_offset") ?? d.SeedOffset,
        };
        p.RejectUnknown();
        return pairs;
    }

    static RewardModelSection ReadRewardModel(MappingReader root)
    {
        var d = new RewardModelSection();
        if (root.Mapping("reward_model") is not { } r) return d;
        var section = d with
        {
            Steps = r.Int("steps") ?? d.Steps,
            BatchSize = r.Int("batch_size") ?? d.BatchSize,
            LearningRate = r.Double("learning_rate") ?? d.LearningRate,
            WarmupSteps = r.Int("warmup_steps") ?? d.WarmupSteps,
            WeightDecay = r.Double("weight_decay") ?? d.WeightDecay,
            MaxGradNorm = r.Double("max_grad_norm") ?? d.MaxGradNorm,
            CenterRewardsCoefficient = r.Double("center_rewards_coefficient") ?? d.CenterRewardsCoefficient,
            Pairs = ReadPairs(r),
            Init = r.String("init"),
        };
        r.RejectUnknown();
        return section;
    }

    static DpoSection ReadDpo(MappingReader root)
    {
        var d = new DpoSection();
        if (root.Mapping("dpo") is not { } p) return d;
        var section = d with
        {
            Steps = p.Int("steps") ?? d.Steps,
            BatchSize = p.Int("batch_size") ?? d.BatchSize,
            LearningRate = p.Double("learning_rate") ?? d.LearningRate,
            Beta = p.Double("beta") ?? d.Beta,
            LossType = p.Enum<DpoLossVariant>("loss_type") ?? d.LossType,
            LabelSmoothing = p.Double("label_smoothing") ?? d.LabelSmoothing,
            SimpoGamma = p.Double("simpo_gamma") ?? d.SimpoGamma,
            RpoAlpha = p.Double("rpo_alpha") ?? d.RpoAlpha,
            DesirableWeight = p.Double("desirable_weight") ?? d.DesirableWeight,
            UndesirableWeight = p.Double("undesirable_weight") ?? d.UndesirableWeight,
            WeightDecay = p.Double("weight_decay") ?? d.WeightDecay,
            MaxGradNorm = p.Double("max_grad_norm") ?? d.MaxGradNorm,
            Pairs = ReadPairs(p),
        };
        p.RejectUnknown();
        return section;
    }

    static DistillSection ReadDistill(MappingReader root)
    {
        var d = new DistillSection();
        if (root.Mapping("distill") is not { } k) return d;
        var section = d with
        {
            Teacher = k.String("teacher") ?? d.Teacher,
            Loss = k.Enum<DistillLossType>("loss") ?? d.Loss,
            Beta = k.Double("beta") ?? d.Beta,
            Lmbda = k.Double("lmbda") ?? d.Lmbda,
            Temperature = k.Double("temperature") ?? d.Temperature,
            MaxNewTokens = k.Int("max_new_tokens") ?? d.MaxNewTokens,
            Steps = k.Int("steps") ?? d.Steps,
            PromptsPerStep = k.Int("prompts_per_step") ?? d.PromptsPerStep,
            NumGenerations = k.Int("num_generations") ?? d.NumGenerations,
            LearningRate = k.Double("learning_rate") ?? d.LearningRate,
            TopK = k.Int("top_k") ?? d.TopK,
            Samplers = k.Int("samplers") ?? d.Samplers,
            WeightDecay = k.Double("weight_decay") ?? d.WeightDecay,
            MaxGradNorm = k.Double("max_grad_norm") ?? d.MaxGradNorm,
        };
        k.RejectUnknown();
        return section;
    }

    static PpoSection ReadPpo(MappingReader root)
    {
        var d = new PpoSection();
        if (root.Mapping("ppo") is not { } p) return d;
        var section = d with
        {
            Steps = p.Int("steps") ?? d.Steps,
            PromptsPerStep = p.Int("prompts_per_step") ?? d.PromptsPerStep,
            NumGenerations = p.Int("num_generations") ?? d.NumGenerations,
            LearningRate = p.Double("learning_rate") ?? d.LearningRate,
            CriticLearningRate = p.Double("critic_learning_rate") ?? d.CriticLearningRate,
            Gamma = p.Double("gamma") ?? d.Gamma,
            Lam = p.Double("lam") ?? d.Lam,
            Cliprange = p.Double("cliprange") ?? d.Cliprange,
            ClipRangeValue = p.Double("cliprange_value") ?? d.ClipRangeValue,
            KlCoef = p.Double("kl_coef") ?? d.KlCoef,
            KlInReward = p.Bool("kl_in_reward") ?? d.KlInReward,
            KlEstimator = p.Enum<KlEstimatorType>("kl_estimator") ?? d.KlEstimator,
            WhitenAdvantages = p.Bool("whiten_advantages") ?? d.WhitenAdvantages,
            WhitenRewards = p.Bool("whiten_rewards") ?? d.WhitenRewards,
            NumPpoEpochs = p.Int("num_ppo_epochs") ?? d.NumPpoEpochs,
            NumMiniBatches = p.Int("num_mini_batches") ?? d.NumMiniBatches,
            MaxCompletionLength = p.Int("max_completion_length") ?? d.MaxCompletionLength,
            Temperature = p.Double("temperature") ?? d.Temperature,
            Samplers = p.Int("samplers") ?? d.Samplers,
            MaxGradNorm = p.Double("max_grad_norm") ?? d.MaxGradNorm,
            Rewards = p.MappingList("rewards") is { Count: > 0 } rewards ? [.. rewards.Select(ReadRewardTerm)] : d.Rewards,
        };
        p.RejectUnknown();
        return section;
    }

    static RlaifSection ReadRlaif(MappingReader root)
    {
        var d = new RlaifSection();
        if (root.Mapping("rlaif") is not { } r) return d;
        var section = d with
        {
            Rounds = r.Int("rounds") ?? d.Rounds,
            PromptsPerRound = r.Int("prompts_per_round") ?? d.PromptsPerRound,
            NumCandidates = r.Int("num_candidates") ?? d.NumCandidates,
            StepsPerRound = r.Int("steps_per_round") ?? d.StepsPerRound,
            Temperature = r.Double("temperature") ?? d.Temperature,
            MaxCompletionLength = r.Int("max_completion_length") ?? d.MaxCompletionLength,
            Samplers = r.Int("samplers") ?? d.Samplers,
            RefreshReference = r.Bool("refresh_reference") ?? d.RefreshReference,
            Judge = ReadJudge(r, d.Judge),
        };
        r.RejectUnknown();
        return section;
    }

    static OnlineDpoSection ReadOnlineDpo(MappingReader root)
    {
        var d = new OnlineDpoSection();
        if (root.Mapping("online_dpo") is not { } o) return d;
        var section = d with
        {
            Steps = o.Int("steps") ?? d.Steps,
            PromptsPerStep = o.Int("prompts_per_step") ?? d.PromptsPerStep,
            MaxNewTokens = o.Int("max_new_tokens") ?? d.MaxNewTokens,
            Temperature = o.Double("temperature") ?? d.Temperature,
            MissingEosPenalty = o.Double("missing_eos_penalty") ?? d.MissingEosPenalty,
            Samplers = o.Int("samplers") ?? d.Samplers,
            Judge = ReadJudge(o, d.Judge),
        };
        o.RejectUnknown();
        return section;
    }

    /// <summary>The <c>judge:</c> mapping of <paramref name="parent"/> (rlaif or online_dpo) over that section's default.</summary>
    static JudgeSection ReadJudge(MappingReader parent, JudgeSection d)
    {
        if (parent.Mapping("judge") is not { } j) return d;
        var section = d with
        {
            Type = j.Enum<JudgeType>("type") ?? d.Type,
            BaseUrl = j.String("base_url"),
            Model = j.String("model"),
            ApiKeyEnv = j.String("api_key_env"),
            MaxConcurrency = j.Int("max_concurrency") ?? d.MaxConcurrency,
            TimeoutSeconds = j.Double("timeout_seconds") ?? d.TimeoutSeconds,
            Retries = j.Int("retries") ?? d.Retries,
            BothOrders = j.Bool("both_orders") ?? d.BothOrders,
            MinConfidence = j.Double("min_confidence") ?? d.MinConfidence,
            MaxResponseBytes = j.Int("max_response_bytes") ?? d.MaxResponseBytes,
        };
        j.RejectUnknown();
        return section;
    }

    static ParallelSection ReadParallel(MappingReader root)
    {
        var d = new ParallelSection();
        if (root.Mapping("parallel") is not { } p) return d;
        var section = d with
        {
            Learners = p.Int("learners") ?? d.Learners,
            BucketBytes = p.Int("bucket_bytes") ?? d.BucketBytes,
            DigestEvery = p.Int("digest_every") ?? d.DigestEvery,
        };
        p.RejectUnknown();
        return section;
    }

    static PeftSection ReadPeft(MappingReader root)
    {
        var d = new PeftSection();
        if (root.Mapping("peft") is not { } p) return d;
        var section = d with
        {
            Type = p.Enum<PeftType>("type") ?? PeftType.Lora,
            R = p.Int("r") ?? d.R,
            Alpha = p.Double("alpha") ?? d.Alpha,
            Dropout = p.Double("dropout") ?? d.Dropout,
            TargetModules = [.. p.StringList("target_modules") ?? []],
            DoubleQuant = p.Bool("double_quant") ?? d.DoubleQuant,
            Stages = [.. p.StringList("stages") ?? []],
        };
        p.RejectUnknown();
        return section;
    }

    static RewardTerm ReadRewardTerm(MappingReader item)
    {
        var args = ImmutableSortedDictionary.CreateBuilder<string, string>(StringComparer.Ordinal);
        if (item.Mapping("args") is { } argsReader)
            foreach (var key in argsReader.Keys.ToList())
                if (argsReader.String(key) is { } value) args[key] = value;
        var term = new RewardTerm
        {
            Name = item.String("name") ?? "",
            Weight = item.Double("weight") ?? 1.0,
            Args = args.ToImmutable(),
        };
        item.RejectUnknown();
        return term;
    }

    static CheckpointSection ReadCheckpoint(MappingReader root)
    {
        var d = new CheckpointSection();
        if (root.Mapping("checkpoint") is not { } checkpoint) return d;
        var section = d with { Every = checkpoint.Int("every") ?? d.Every, Keep = checkpoint.Int("keep") ?? d.Keep };
        checkpoint.RejectUnknown();
        return section;
    }

    /// <summary>TRL's top-level logging keys (<see cref="LoggingSection"/>).</summary>
    static LoggingSection ReadLogging(MappingReader root)
    {
        var d = new LoggingSection();
        return d with
        {
            LoggingSteps = root.Int("logging_steps") ?? d.LoggingSteps,
            ReportTo = root.StringList("report_to") is { } targets ? [.. targets.Select(t => ReportTargetOf(root, t))] : d.ReportTo,
            TraceRollouts = root.BoolOrFraction("trace_rollouts") ?? d.TraceRollouts,
            TraceFileMb = root.Int("trace_file_mb") ?? d.TraceFileMb,
            TraceMaxMb = root.Int("trace_max_mb") ?? d.TraceMaxMb,
        };
    }

    static ReportTarget ReportTargetOf(MappingReader root, string name)
    {
        if (ConfigNames.TryParse<ReportTarget>(name, out var target)) return target;
        root.ErrorAt("report_to", $"report_to {ConfigNames.OneOf<ReportTarget>()} (got '{name}')");
        return ReportTarget.Jsonl;
    }

    static WeightSyncSection ReadWeightSync(MappingReader root)
    {
        var d = new WeightSyncSection();
        if (root.Mapping("weight_sync") is not { } w) return d;
        var section = d with
        {
            ChunkBytes = w.Int("chunk_bytes") ?? d.ChunkBytes,
            Concurrency = w.Int("concurrency") ?? d.Concurrency,
            Delta = w.Bool("delta") ?? d.Delta,
        };
        w.RejectUnknown();
        return section;
    }

    /// <summary>Makes every path absolute (against the current directory) and checks that inputs exist.</summary>
    static ExperimentConfig ResolvePaths(ExperimentConfig config, LoadContext context)
    {
        string? Input(string? path, string field, bool folder, bool fileOrFolder = false)
        {
            if (path is null) return null;
            var full = Path.GetFullPath(path);
            var exists = fileOrFolder ? File.Exists(full) || Directory.Exists(full) : folder ? Directory.Exists(full) : File.Exists(full);
            if (!exists) context.FieldError(field, $"{field}: {(folder ? "folder" : "file")} '{full}' does not exist");
            return full;
        }

        // A model folder that is one of our checkpoints is verified here, before any silo starts: a file changed
        // since it was written is refused with both hashes (the grain that loads it verifies again).
        void Verified(string? folder, string field)
        {
            if (folder is null || !Directory.Exists(folder)) return;
            try { ModelFolderDigest.VerifyIfCheckpoint(folder); }
            catch (InvalidDataException e) { context.FieldError(field, $"{field}: {e.Message}"); }
        }

        var model = config.Model;
        if (!model.IsScratch)
        {
            // A hub id ("org/name") that is not a local folder is looked up in the local Hugging Face cache.
            bool notCached = false;
            if (!Directory.Exists(model.Init) && HubCache.LooksLikeHubId(model.Init))
            {
                try { model = model with { Init = HubCache.Resolve(model.Init, HubCache.DefaultRoot()) }; }
                catch (DirectoryNotFoundException e)
                {
                    context.FieldError("model.init", $"model.init: {e.Message}");
                    notCached = true;
                }
            }
            if (!notCached)
            {
                model = model with { Init = Input(model.Init, "model.init", folder: true)! };
                if (Directory.Exists(model.Init) && !File.Exists(Path.Combine(model.Init, "config.json")))
                    context.FieldError("model.init", $"model.init: '{model.Init}' has no config.json (not a Hugging Face model folder)");
                Verified(model.Init, "model.init");
            }
        }
        if (model.Tokenizer is { } tokenizer && tokenizer != "char")
            model = model with { Tokenizer = Input(tokenizer, "model.tokenizer", folder: false, fileOrFolder: true) };

        var rewardModelInit = Input(config.RewardModel.Init, "reward_model.init", folder: true);
        Verified(rewardModelInit, "reward_model.init");
        var judgeModel = config.Rlaif.Judge.Type == JudgeType.Decoder ? Input(config.Rlaif.Judge.Model, "rlaif.judge.model", folder: true) : null;
        Verified(judgeModel, "rlaif.judge.model");
        var teacher = config.IsDistill ? Input(config.Distill.Teacher, "distill.teacher", folder: true) : null;
        Verified(teacher, "distill.teacher");
        var onlineJudgeModel = config.OnlineDpo.Judge.Type == JudgeType.Decoder ? Input(config.OnlineDpo.Judge.Model, "online_dpo.judge.model", folder: true) : null;
        Verified(onlineJudgeModel, "online_dpo.judge.model");

        return config with
        {
            Model = model,
            Data = config.Data with
            {
                TrainFile = Input(config.Data.TrainFile, "data.train_file", folder: false),
                EvalFile = Input(config.Data.EvalFile, "data.eval_file", folder: false),
            },
            RewardModel = config.RewardModel with
            {
                Pairs = ResolvePairs(config.RewardModel.Pairs, "reward_model.pairs"),
                Init = rewardModelInit,
            },
            Dpo = config.Dpo with { Pairs = ResolvePairs(config.Dpo.Pairs, "dpo.pairs") },
            Rlaif = config.Rlaif.Judge.Type == JudgeType.Decoder
                ? config.Rlaif with { Judge = config.Rlaif.Judge with { Model = judgeModel } }
                : config.Rlaif,
            Distill = teacher is null ? config.Distill : config.Distill with { Teacher = teacher },
            OnlineDpo = config.OnlineDpo.Judge.Type == JudgeType.Decoder
                ? config.OnlineDpo with { Judge = config.OnlineDpo.Judge with { Model = onlineJudgeModel } }
                : config.OnlineDpo,
            OutputDir = Path.GetFullPath(config.OutputDir),
        };

        PreferenceDataSection ResolvePairs(PreferenceDataSection pairs, string path) => pairs with
        {
            TrainFile = Input(pairs.TrainFile, $"{path}.train_file", folder: false),
            EvalFile = Input(pairs.EvalFile, $"{path}.eval_file", folder: false),
        };
    }

    static readonly HashSet<string> ModelConfigFields = typeof(ModelConfig).GetProperties()
        .Select(p => p.GetCustomAttribute<JsonPropertyNameAttribute>()?.Name)
        .OfType<string>()
        .ToHashSet(StringComparer.Ordinal);

    [GeneratedRegex(@"field '(?<field>[a-z_0-9]+)'")]
    private static partial Regex FieldInMessage();
}

using RlhfActors.Abstractions;
using RlhfActors.Abstractions.Config;
using RlhfActors.Abstractions.Rollouts;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Distillation;
using RlhfActors.Training.Model;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Grains.Specs;

/// <summary>The config's <c>distill:</c> section → the Training layer's <see cref="DistillOptions"/>, the teacher
/// grain's key and init, and the checks that need the teacher's folder. Errors name the YAML field.</summary>
public static class DistillSpecs
{
    /// <summary>What the section's own rules cannot see: the other sections it does not work with yet.</summary>
    public static IEnumerable<ConfigError> Errors(ExperimentConfig config)
    {
        if (config.Parallel.Learners > 1)
            yield return new ConfigError("parallel.learners", $"parallel.learners must be 1 for algorithm distill (data-parallel distillation is not written yet) (got {config.Parallel.Learners})");
    }

    public static DistillOptions Options(ExperimentConfig config)
    {
        var d = config.Distill;
        return new DistillOptions
        {
            Loss = d.Loss switch
            {
                DistillLossType.ReverseKl => DistillLoss.ReverseKl,
                DistillLossType.Jsd => DistillLoss.Jsd,
                var other => throw ConfigNames.Undefined("distill.loss", other),
            },
            Beta = d.Beta,
            Lmbda = d.ResolvedLmbda,
            Temperature = d.Temperature,
            MaxNewTokens = d.MaxNewTokens,
            NumGenerations = d.NumGenerations,
            TopK = d.TopK,
            WeightDecay = d.WeightDecay,
            MaxGradNorm = d.MaxGradNorm,
            MaxNonfiniteSteps = config.MaxNonfiniteSteps,
        };
    }

    /// <summary>One SHA-256 over the folder's files (a checkpoint's are verified against its manifest on the way).</summary>
    public static string FolderSha256(string folder) => ModelFolderDigest.Combined(ModelFolderDigest.Compute(folder));

    /// <summary>The teacher grain's key and what it loads. Reads (hashes) the folder: call it once per stage start.</summary>
    public static (string Key, TeacherInit Init) Teacher(ExperimentConfig config)
    {
        var folder = Path.GetFullPath(config.Distill.Teacher);
        var sha = FolderSha256(folder);
        var dtype = config.Model.DType.Yaml();
        return (GrainKeys.Teacher(sha, dtype), new TeacherInit { Folder = folder, Sha256 = sha, DType = dtype });
    }

    /// <summary>Throws <see cref="InvalidDataException"/> naming <c>distill.teacher</c> when the teacher does not read
    /// token ids as the student does (a per-token comparison of two vocabularies means nothing).</summary>
    public static void CheckVocabulary(ExperimentConfig config, ITokenizer student, int studentVocabSize)
    {
        var folder = config.Distill.Teacher;
        var configPath = Path.Combine(folder, "config.json");
        if (!File.Exists(configPath))
            throw new InvalidDataException($"distill.teacher: '{folder}' has no config.json (not a Hugging Face model folder)");
        if (!TokenizerFiles.FolderHasTokenizer(folder))
            throw new InvalidDataException($"distill.teacher: '{folder}' has no tokenizer (tokenizer.json or {TokenizerFiles.CharMarkerFileName}); the teacher must share the student's tokenizer");
        var teacherVocab = ModelConfig.Load(configPath).VocabSize;
        if (TeacherModel.VocabularyMismatch(student, studentVocabSize, TokenizerFiles.Create(folder), teacherVocab) is { } why)
            throw new InvalidDataException($"distill.teacher: teacher and student must share the tokenizer: {why}");
    }
}

using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;
using RlhfActors.Training.Tasks;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Data;

public static class ExperimentData
{
    /// <summary>Builds or reads the examples a spec names. A task is generated with <see cref="TaskSplit"/> from
    /// the spec's seed and counts and scored by the task's own check; files are read with
    /// <see cref="JsonlDataset"/> (the counts do not apply) and scored by exact match after trimming.
    /// Bad input throws InvalidDataException naming file and line; an inconsistent spec ArgumentException naming the fields.</summary>
    public static LoadedData Load(DataSpec spec)
    {
        ArgumentNullException.ThrowIfNull(spec);
        bool hasTask = !string.IsNullOrWhiteSpace(spec.Task), hasFile = !string.IsNullOrWhiteSpace(spec.TrainFile);
        if (hasTask == hasFile)
            throw new ArgumentException(
                $"data: set exactly one of Task and TrainFile (Task = {Show(spec.Task)}, TrainFile = {Show(spec.TrainFile)})", nameof(spec));

        if (hasTask)
        {
            if (!string.IsNullOrWhiteSpace(spec.EvalFile))
                throw new ArgumentException($"data: EvalFile ({spec.EvalFile}) is only used with TrainFile, not with Task '{spec.Task}'", nameof(spec));
            var task = SyntheticTasks.Create(spec.Task!, spec.TaskParameters);
            var (train, eval) = TaskSplit.Build(task, spec.Seed, spec.TrainExamples, spec.EvalExamples);
            return new LoadedData(train, eval, new TaskVerifier(task));
        }

        if (string.IsNullOrWhiteSpace(spec.EvalFile))
            throw new ArgumentException($"data: EvalFile is required when TrainFile ({spec.TrainFile}) is given", nameof(spec));
        if (spec.TaskParameters is { Count: > 0 })
            throw new ArgumentException("data: TaskParameters only apply with Task, not with TrainFile", nameof(spec));
        bool charTokenizer = spec.Tokenizer is { } tokenizer && TokenizerFiles.IsCharacter(tokenizer);
        var template = TokenizerFiles.ChatTemplateOf(spec.Tokenizer);
        return new LoadedData(
            JsonlDataset.ReadPromptCompletions(spec.TrainFile!, spec.Limits, charTokenizer, template),
            JsonlDataset.ReadPromptCompletions(spec.EvalFile, spec.Limits, charTokenizer, template),
            ExactMatchVerifier.Instance);
    }

    /// <summary>Lower-case hex SHA-256 over the train then eval examples, for checkpoint provenance. Each section and
    /// string is length-prefixed, so moving text between fields, examples or sections always changes the hash.</summary>
    public static string DatasetSha256(LoadedData data)
    {
        ArgumentNullException.ThrowIfNull(data);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        AddSection(hash, "train", data.Train);
        AddSection(hash, "eval", data.Eval);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    /// <summary>Lower-case hex SHA-256 of one list of examples (an evaluation's), hashed as <see cref="DatasetSha256"/>
    /// hashes a section named "examples": the digest of generated examples, which have no file to hash.</summary>
    public static string ExamplesSha256(IReadOnlyList<PromptCompletion> examples)
    {
        ArgumentNullException.ThrowIfNull(examples);
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        AddSection(hash, "examples", examples);
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    static void AddSection(IncrementalHash hash, string section, IReadOnlyList<PromptCompletion> examples)
    {
        void Add(string text)
        {
            var bytes = Encoding.UTF8.GetBytes(text);
            Span<byte> length = stackalloc byte[4];
            BinaryPrimitives.WriteInt32LittleEndian(length, bytes.Length); // fixed byte order: same hash on every machine
            hash.AppendData(length);
            hash.AppendData(bytes);
        }
        Add(section);
        Add(examples.Count.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var example in examples)
        {
            Add(example.Prompt);
            Add(example.Completion);
            // Only lines with extra fields add them, so a dataset without any hashes as it did before they existed.
            if (example.Columns is { } columns) { Add("columns"); Add(columns); }
        }
    }

    static string Show(string? value) => value is null ? "unset" : $"'{value}'";

    sealed class TaskVerifier(ISyntheticTask task) : IAnswerVerifier
    {
        public bool IsCorrect(PromptCompletion example, string generatedCompletion) => task.IsCorrect(example, generatedCompletion);
    }
}

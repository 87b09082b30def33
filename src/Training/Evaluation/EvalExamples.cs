using RlhfActors.Training.Data;
using RlhfActors.Training.IO;
using RlhfActors.Training.Tasks;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Training.Evaluation;

/// <summary>The examples an evaluation scores, their verifier, and how a record names them (with their digest).</summary>
public sealed record EvalExamples(IReadOnlyList<PromptCompletion> Examples, IAnswerVerifier Verifier, EvalData Data)
{
    /// <summary>A built-in task's held-out set, drawn as a run with this seed and <c>data.eval_examples</c> draws it
    /// (<see cref="TaskSplit"/>: the held-out set depends only on the seed and its count), so a run's evaluation can be
    /// reproduced outside it. The record holds every parameter, defaults included, under the task's own names. An
    /// unknown task or parameter, or a value out of range, is an <see cref="ArgumentException"/> naming it.</summary>
    public static EvalExamples FromTask(string task, IReadOnlyDictionary<string, int> parameters, int seed, int count)
    {
        var created = SyntheticTasks.Create(task, parameters);
        var loaded = ExperimentData.Load(new DataSpec { Task = created.Name, TaskParameters = parameters, TrainExamples = 0, EvalExamples = count, Seed = seed });
        var resolved = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var p in SyntheticTasks.ParametersOf(created.Name))
            resolved[p.Name] = parameters.Where(kv => string.Equals(kv.Key, p.Name, StringComparison.OrdinalIgnoreCase)).Select(kv => (int?)kv.Value).FirstOrDefault() ?? p.Default;
        return new EvalExamples(loaded.Eval, loaded.Verifier, new EvalData
        {
            Task = created.Name,
            TaskParameters = resolved,
            Seed = seed,
            Examples = loaded.Eval.Count,
            Digest = ExperimentData.ExamplesSha256(loaded.Eval),
        });
    }

    /// <summary>A JSONL file of prompt/completion lines (TRL's field names, conversational lines rendered with the
    /// tokenizer's chat template), scored by exact match as a run scores its <c>data.eval_file</c>. Its digest is the
    /// file's SHA-256, which <c>sha256sum</c> reproduces. Bad lines are <see cref="InvalidDataException"/>s naming file
    /// and line.</summary>
    public static EvalExamples FromFile(string path, string tokenizer, JsonlLimits? limits = null)
    {
        var full = Path.GetFullPath(path);
        if (!File.Exists(full)) throw new FileNotFoundException($"eval file {full} does not exist", full);
        var examples = JsonlDataset.ReadPromptCompletions(full, limits, TokenizerFiles.IsCharacter(tokenizer), TokenizerFiles.ChatTemplateOf(tokenizer));
        return new EvalExamples(examples, ExactMatchVerifier.Instance, new EvalData
        {
            EvalFile = full,
            Examples = examples.Count,
            Digest = Hashing.Sha256Hex(full),
        });
    }
}

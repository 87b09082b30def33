namespace RlhfActors.Training.Data;

/// <summary>Where an experiment's examples come from: a built-in synthetic task (generated from the seed)
/// or JSONL files with TRL's field names. Exactly one of <see cref="Task"/> and <see cref="TrainFile"/> is set.</summary>
public sealed record DataSpec
{
    /// <summary>Built-in task name, e.g. "addition" or "reverse".</summary>
    public string? Task { get; init; }
    /// <summary>Task difficulty parameters, e.g. digits=3 for addition, length=8 for reverse.</summary>
    public IReadOnlyDictionary<string, int> TaskParameters { get; init; } = new Dictionary<string, int>();
    public int TrainExamples { get; init; } = 10_000;
    public int EvalExamples { get; init; } = 200;
    public string? TrainFile { get; init; }
    public string? EvalFile { get; init; }
    public int Seed { get; init; } = 1;
    /// <summary>The tokenizer the examples will be encoded with ("char" or a path), when known. With the character
    /// tokenizer, file examples are checked against its vocabulary as they are read, so that a character it lacks is
    /// reported at its file and line.</summary>
    public string? Tokenizer { get; init; }
    /// <summary>Files are read within these caps (<c>data.max_line_bytes</c>).</summary>
    public JsonlLimits Limits { get; init; } = JsonlLimits.Default;
}

/// <summary>Decides whether a generated completion answers an example correctly.</summary>
public interface IAnswerVerifier
{
    bool IsCorrect(PromptCompletion example, string generatedCompletion);
}

/// <summary>An experiment's resolved data: train and held-out examples and the verifier that scores the latter.</summary>
public sealed record LoadedData(IReadOnlyList<PromptCompletion> Train, IReadOnlyList<PromptCompletion> Eval, IAnswerVerifier Verifier);

using RlhfActors.Training.Data;

namespace RlhfActors.Training.Tasks;

/// <summary>A built-in task whose examples are generated from a seed and whose answers can be checked exactly,
/// so a tiny model's progress is measurable without any dataset file. Prompts and completions use only
/// characters the <see cref="Tokenization.CharTokenizer"/> knows.</summary>
public interface ISyntheticTask
{
    string Name { get; }

    /// <summary>One example; the result depends only on <paramref name="rng"/>'s state (deterministic per seed).</summary>
    PromptCompletion Generate(Random rng);

    /// <summary>True when <paramref name="generated"/>, trimmed of whitespace, is exactly the expected completion.</summary>
    bool IsCorrect(PromptCompletion example, string generated);
}

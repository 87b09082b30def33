namespace RlhfActors.Training.Data;

/// <summary>
/// Caps on a JSONL dataset file, so that a wrong or hostile file is an error naming its line instead of a process
/// that grows until it is killed. Tests pass smaller caps to reach them with small files.
/// </summary>
public sealed record JsonlLimits
{
    public static JsonlLimits Default { get; } = new();

    /// <summary>Bytes of one line (its line break not counted). A mebibyte is hundreds of times a long chat example,
    /// and bounds what one line can make the reader buffer.</summary>
    public int MaxLineBytes { get; init; } = 1 << 20;

    /// <summary>Examples (non-blank lines) of one file: as many as a built-in task may generate
    /// (<c>DataSection.MaxTrainExamples</c>), all of which every reader holds in memory.</summary>
    public int MaxExamples { get; init; } = 10_000_000;
}

namespace RlhfActors.Abstractions.Experiments;

/// <summary>
/// Whole lines of a run's <c>metrics.jsonl</c> as the controller's silo reads them (<c>rlhf metrics</c>,
/// <c>rlhf status</c> on a cluster, where the output folder may not be on the client's machine). The lines travel as
/// the file holds them, one JSON object per line, and are parsed once, by the reader.
/// </summary>
[GenerateSerializer, Immutable, Alias("rlhf.MetricsChunk")]
public sealed record MetricsChunk
{
    /// <summary>At most this much per call: well under the message limit, and a follower's poll stays cheap.</summary>
    public const int MaxBytes = 1 << 20;

    /// <summary>Whole lines, each ending in '\n'.</summary>
    [Id(0)] public string Lines { get; init; } = "";
    /// <summary>The offset to ask from next (after the last whole line returned).</summary>
    [Id(1)] public long Next { get; init; }
    /// <summary>The run had finished (completed, failed or stopped) when the lines were read: nothing more will come.</summary>
    [Id(2)] public bool Finished { get; init; }
}

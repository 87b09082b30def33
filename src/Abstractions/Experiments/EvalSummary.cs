namespace RlhfActors.Abstractions.Experiments;

/// <summary>One held-out evaluation of one policy version.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.EvalSummary")]
public sealed record EvalSummary
{
    [Id(0)] public long PolicyVersion { get; init; }
    [Id(1)] public int Step { get; init; }
    [Id(2)] public int Examples { get; init; }
    [Id(3)] public int Correct { get; init; }
    [Id(4)] public double Accuracy { get; init; }
    [Id(5)] public double Seconds { get; init; }
}

namespace RlhfActors.Abstractions.Learner;

/// <summary>One optimizer step, as the learner measured it.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.TrainStepMetrics")]
public sealed record TrainStepMetrics
{
    [Id(0)] public int Step { get; init; }
    [Id(1)] public double Loss { get; init; }
    [Id(2)] public double LearningRate { get; init; }
    [Id(3)] public double GradNorm { get; init; }
    [Id(4)] public long Tokens { get; init; }
    [Id(5)] public double Seconds { get; init; }
}

using System.Collections.Immutable;

namespace RlhfActors.Abstractions.Rollouts;

/// <summary>What a teacher grain loads: a model folder, the digest of its files (part of the grain's key, checked
/// again where the folder is read), and the compute dtype.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.TeacherInit")]
public sealed record TeacherInit
{
    /// <summary>Absolute path of the teacher's model folder (a Hugging Face folder or a checkpoint).</summary>
    [Id(0)] public string Folder { get; init; } = "";
    /// <summary>SHA-256 over the folder's files (name and hash of each), as the key names it.</summary>
    [Id(1)] public string Sha256 { get; init; } = "";
    [Id(2)] public string DType { get; init; } = "fp32";
}

/// <summary>A teacher grain and who uses it.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.TeacherInfo")]
public sealed record TeacherInfo
{
    /// <summary>The experiments attached to this teacher (released ones removed).</summary>
    [Id(0)] public ImmutableArray<string> Experiments { get; init; } = [];
    /// <summary>Times this activation loaded the model: 1 however many experiments share it.</summary>
    [Id(1)] public int Loads { get; init; }
    [Id(2)] public int VocabSize { get; init; }
    [Id(3)] public long Parameters { get; init; }
    /// <summary>Completion tokens scored so far, over every experiment.</summary>
    [Id(4)] public long TokensScored { get; init; }
}

/// <summary>One row's top-k teacher distribution: at each of the row's completion positions, <see cref="K"/> ids and
/// their log-probs, position-major (entry j of position t at t·K + j).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.TeacherTopKRow")]
public sealed record TeacherTopKRow
{
    [Id(0)] public int K { get; init; }
    [Id(1)] public int[] Ids { get; init; } = [];
    [Id(2)] public float[] LogProbs { get; init; } = [];
}

/// <summary>One distillation update's inputs: the batch (the student's samples, or dataset completions on a step GKD's
/// λ coin sent off-policy) and the teacher's answer for it: per-row log-probs (loss reverse_kl) or top-k rows (jsd).</summary>
[GenerateSerializer, Immutable, Alias("rlhf.DistillStepRequest")]
public sealed record DistillStepRequest
{
    [Id(0)] public RolloutBatchMessage Rollouts { get; init; } = new();
    /// <summary>Default when the loss is jsd.</summary>
    [Id(1)] public ImmutableArray<float[]> TeacherLogProbs { get; init; }
    /// <summary>Default when the loss is reverse_kl.</summary>
    [Id(2)] public ImmutableArray<TeacherTopKRow> TeacherTopK { get; init; }
    [Id(3)] public double LearningRate { get; init; }
    [Id(4)] public bool OnPolicy { get; init; }
}

/// <summary>One distillation update as the learner measured it; the new version is published when this returns.</summary>
[GenerateSerializer, Immutable, Alias("rlhf.DistillStepResult")]
public sealed record DistillStepResult
{
    /// <summary>Global step (SFT warm-up steps + distillation steps).</summary>
    [Id(0)] public int Step { get; init; }
    [Id(1)] public long PolicyVersion { get; init; }
    [Id(2)] public double Loss { get; init; }
    /// <summary>Token mean of the student's reverse KL from the teacher on the step's tokens.</summary>
    [Id(3)] public double ReverseKl { get; init; }
    [Id(4)] public double GradNorm { get; init; }
    [Id(5)] public int Sequences { get; init; }
    /// <summary>Completion tokens trained on: the tokens the teacher scored.</summary>
    [Id(6)] public long CompletionTokens { get; init; }
    /// <summary>Update time on the learner's device worker (publication excluded).</summary>
    [Id(7)] public double Seconds { get; init; }
    [Id(8)] public long PublishedBytes { get; init; }
}

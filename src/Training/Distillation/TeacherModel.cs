using RlhfActors.Training.Model;
using RlhfActors.Training.Rl;
using RlhfActors.Training.Rollouts;
using RlhfActors.Training.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Distillation;

/// <summary>One row's top-k teacher distribution: at each of the row's completion positions, <see cref="K"/> ids and
/// their log-probs, position-major (entry j of position t at t·K + j).</summary>
public sealed record TopKRow(int K, int[] Ids, float[] LogProbs);

/// <summary>What the teacher said about a batch: per-row log-probs of the sampled tokens (loss reverse_kl) or per-row
/// top-k distributions (loss jsd); exactly one is set.</summary>
public sealed record TeacherTargets(IReadOnlyList<float[]>? LogProbs, IReadOnlyList<TopKRow>? TopK)
{
    /// <summary>Completion tokens the teacher scored.</summary>
    public long Tokens => LogProbs?.Sum(r => (long)r.Length) ?? TopK!.Sum(r => (long)(r.K == 0 ? 0 : r.Ids.Length / r.K));
}

/// <summary>
/// A frozen teacher: a model folder (Hugging Face or a checkpoint of this system) loaded for inference only, never
/// trained, asked for the log-probs of completions someone else sampled. Shares the student's tokenizer (checked by
/// <see cref="VocabularyMismatch"/>): both models' token ids must mean the same thing for a per-token comparison to
/// mean anything. Not thread-safe: one device worker thread calls it.
/// </summary>
public sealed class TeacherModel : IDisposable
{
    readonly DecoderModel model;

    TeacherModel(DecoderModel model, ITokenizer tokenizer) => (this.model, Tokenizer) = (model, tokenizer);

    public ITokenizer Tokenizer { get; }
    public ModelConfig Config => model.Config;
    public long Parameters => model.ParameterCount();

    /// <param name="verified">The caller just verified the folder (a checkpoint's manifest); it is not hashed again.</param>
    public static TeacherModel Load(string folder, string dtype = "fp32", string device = "cpu", bool verified = false)
    {
        var tokenizer = TokenizerFiles.Create(folder);
        var model = ModelFactory.LoadFolder(folder, ModelFactory.ParseComputeType(dtype), new Device(device), verified);
        model.StoreWeightsInComputeType();
        model.eval();
        foreach (var p in model.parameters()) p.requires_grad = false;
        return new TeacherModel(model, tokenizer);
    }

    /// <summary>log π_T (at <paramref name="temperature"/>) of each completion token, per row.</summary>
    public float[][] LogProbs(RolloutBatch batch, double temperature) =>
        GrpoLearner.RowLogProbs(model, batch, temperature, Tokenizer.PadId);

    /// <summary>The <paramref name="k"/> most likely next tokens and their log-probs (log_softmax of logits ÷
    /// <paramref name="temperature"/> over the whole vocabulary) at every completion position, per row. k = 0 or ≥ the
    /// vocabulary: the whole distribution, in vocabulary order.</summary>
    public TopKRow[] TopK(RolloutBatch batch, int k, double temperature)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var (logits, _, _) = CompletionLogProbs.Logits(model, batch.PromptIds, batch.CompletionIds, temperature, Tokenizer.PadId);
        var logp = logits.log_softmax(-1).to(ScalarType.Float32).cpu();                       // [B, Tc, V]
        long vocab = logp.shape[2], width = logp.shape[1];
        int kk = k <= 0 || k >= vocab ? (int)vocab : k;
        Tensor values, ids;
        if (kk == vocab) (values, ids) = (logp, arange(vocab, dtype: ScalarType.Int64).expand(logp.shape[0], width, vocab).contiguous());
        else (values, ids) = logp.topk(kk, dim: -1);
        var flatValues = values.contiguous().data<float>().ToArray();
        var flatIds = ids.to(ScalarType.Int32).contiguous().data<int>().ToArray();
        return Enumerable.Range(0, batch.Count).Select(b =>
        {
            int n = batch.CompletionIds[b].Length * kk, at = (int)(b * width * kk);
            return new TopKRow(kk, flatIds.AsSpan(at, n).ToArray(), flatValues.AsSpan(at, n).ToArray());
        }).ToArray();
    }

    /// <summary>What the loss needs of the teacher for <paramref name="batch"/>.</summary>
    public TeacherTargets Targets(RolloutBatch batch, DistillOptions options) => options.Loss == DistillLoss.ReverseKl
        ? new TeacherTargets(LogProbs(batch, options.Temperature), null)
        : new TeacherTargets(null, TopK(batch, options.TopK, options.Temperature));

    /// <summary>Null when student and teacher read token ids alike; otherwise the first difference: the size of the
    /// logits (the models' vocab_size), the special ids, or the text of a token.</summary>
    public static string? VocabularyMismatch(ITokenizer student, int studentVocabSize, ITokenizer teacher, int teacherVocabSize)
    {
        if (studentVocabSize != teacherVocabSize)
            return $"the teacher's vocab_size is {teacherVocabSize}, the student's {studentVocabSize}";
        if (student.VocabSize != teacher.VocabSize)
            return $"the teacher's tokenizer has {teacher.VocabSize} tokens, the student's {student.VocabSize}";
        if (student.PadId != teacher.PadId || student.EosId != teacher.EosId || student.BosId != teacher.BosId)
            return $"special ids differ (pad/eos/bos: teacher {teacher.PadId}/{teacher.EosId}/{teacher.BosId?.ToString() ?? "none"}, "
                + $"student {student.PadId}/{student.EosId}/{student.BosId?.ToString() ?? "none"})";
        for (int id = 0; id < student.VocabSize; id++)
            if (student.TokenText(id) != teacher.TokenText(id))
                return $"token {id} is '{teacher.TokenText(id)}' to the teacher and '{student.TokenText(id)}' to the student";
        return null;
    }

    public void Dispose() => model.Dispose();
}

using System.Globalization;
using RlhfActors.Training.Model;
using RlhfActors.Training.Tokenization;
using static TorchSharp.torch;

namespace RlhfActors.Training.Judging;

/// <summary>
/// A local judge: a decoder reads "{prompt}\nA:{a}\nB:{b}\nBetter:" and its next-token logits for "A" and "B",
/// softmaxed over just those two, give P(A better) for that order; the B-first order is mapped back and averaged.
/// One forward pass serves every query and order (rows right-padded: causal attention keeps real tokens off the
/// pads, and each row is read at its own last real position), so no sampling or KV cache is needed.
/// The model is only read (no_grad, its mode untouched) and runs on the caller's thread — the caller is the device
/// worker that owns it — so the returned task is already complete. The judge owns neither model nor tokenizer.
/// </summary>
public sealed class DecoderChoiceJudge : IPairwiseJudge
{
    /// <summary>{0} = the prompt, {1} = the answer shown as A, {2} = the answer shown as B. Short on purpose: the
    /// built-in models see 64 positions.</summary>
    public const string PromptTemplate = "{0}\nA:{1}\nB:{2}\nBetter:";

    readonly DecoderModel _model;
    readonly ITokenizer _tokenizer;
    readonly int _idA, _idB;

    public DecoderChoiceJudge(DecoderModel model, ITokenizer tokenizer, bool bothOrders = true)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(tokenizer);
        _model = model;
        _tokenizer = tokenizer;
        BothOrders = bothOrders;
        _idA = SingleToken("A");
        _idB = SingleToken("B");
    }

    /// <summary>Judge each pair A-first and B-first and average, cancelling the model's position bias.</summary>
    public bool BothOrders { get; }

    /// <summary>The token ids of the judge's text for one order: bos (when the tokenizer has one) + the template.</summary>
    public int[] Encode(string prompt, string first, string second)
    {
        var text = string.Format(CultureInfo.InvariantCulture, PromptTemplate, prompt, first, second);
        return (_tokenizer.BosId is int bos ? new[] { bos } : []).Concat(_tokenizer.Encode(text)).ToArray();
    }

    public Task<IReadOnlyList<JudgeVerdict>> JudgeAsync(IReadOnlyList<PairwiseQuery> queries, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(queries);
        ct.ThrowIfCancellationRequested();
        for (int i = 0; i < queries.Count; i++)
            if (queries[i] is not { Prompt: not null, A: not null, B: not null })
                throw new ArgumentException($"queries[{i}] is null or has a null field", nameof(queries));
        if (queries.Count == 0) return Task.FromResult<IReadOnlyList<JudgeVerdict>>([]);

        int orders = BothOrders ? 2 : 1;
        var rows = new int[queries.Count * orders][];
        int limit = _model.Config.MaxPositionEmbeddings;
        for (int i = 0; i < queries.Count; i++)
        {
            var q = queries[i];
            rows[i * orders] = Encode(q.Prompt, q.A, q.B);
            if (BothOrders) rows[i * orders + 1] = Encode(q.Prompt, q.B, q.A);
            for (int order = 0; order < orders; order++)
                if (rows[i * orders + order].Length > limit)
                    throw new ArgumentException(
                        $"queries[{i}] ({(order == 0 ? "A first" : "B first")}) is {rows[i * orders + order].Length} tokens as a judge prompt; " +
                        $"the judge model's max_position_embeddings is {limit}: shorten the prompt or the answers", nameof(queries));
        }

        var aFirst = ChoiceProbabilities(rows);
        var verdicts = new JudgeVerdict[queries.Count];
        for (int i = 0; i < queries.Count; i++)
            verdicts[i] = JudgeVerdict.FromOrders(aFirst[i * orders], BothOrders ? 1 - aFirst[i * orders + 1] : null);
        return Task.FromResult<IReadOnlyList<JudgeVerdict>>(verdicts);
    }

    /// <summary>Per row, softmax over the logits of "A" and "B" after its last token: P("A") for that row.</summary>
    double[] ChoiceProbabilities(int[][] rows)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var device = _model.parameters().First().device;
        int width = rows.Max(r => r.Length);
        var ids = new long[rows.Length * width];
        Array.Fill(ids, _tokenizer.PadId);
        var last = new long[rows.Length];
        for (int r = 0; r < rows.Length; r++)
        {
            for (int j = 0; j < rows[r].Length; j++) ids[r * width + j] = rows[r][j];
            last[r] = rows[r].Length - 1;
        }
        var logits = _model.Forward(tensor(ids, new long[] { rows.Length, width }, device: device)); // [R, T, V] fp32
        var atLast = logits[arange(rows.Length, dtype: ScalarType.Int64, device: device), tensor(last, device: device)]; // [R, V]
        var choice = atLast.index_select(1, tensor(new long[] { _idA, _idB }, device: device)); // [R, 2]
        var preferA = choice.softmax(-1).select(1, 0).to(ScalarType.Float64).cpu();
        return preferA.data<double>().ToArray();
    }

    int SingleToken(string letter)
    {
        var ids = _tokenizer.Encode(letter);
        if (ids.Count != 1)
            throw new ArgumentException(
                $"the judge reads the next-token logit of \"{letter}\", but this tokenizer encodes \"{letter}\" as {ids.Count} tokens " +
                $"[{string.Join(", ", ids)}]; it needs exactly one", "tokenizer");
        return ids[0];
    }

    /// <summary>Nothing to free: the model and tokenizer are the caller's.</summary>
    public void Dispose() { }
}

using System.Globalization;
using RlhfActors.Tests.Model;
using RlhfActors.Training.Judging;
using RlhfActors.Training.Model;
using RlhfActors.Training.Tokenization;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Judging;

public sealed class DecoderChoiceJudgeTests
{
    static readonly CharTokenizer Tokenizer = CharTokenizer.Instance;

    // The built-in models' 64 positions, so the length check is the one real configs hit.
    static DecoderModel TinyModel() => TinyModels.Create(TinyModels.Llama() with { VocabSize = Tokenizer.VocabSize, MaxPositionEmbeddings = 64 });

    // Different lengths, so rows are padded in the batch.
    static readonly PairwiseQuery[] Queries = [new("2+3=", "5", "16"), new("abc|", "cba", "abcabc"), new("7*8=", "56", "54")];

    /// <summary>P("A") after the judge text for one order, from an unbatched, unpadded forward pass.</summary>
    static double DirectPreferFirst(DecoderModel model, string prompt, string first, string second)
    {
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var text = string.Format(CultureInfo.InvariantCulture, DecoderChoiceJudge.PromptTemplate, prompt, first, second);
        long[] ids = [CharTokenizer.Bos, .. Tokenizer.Encode(text).Select(i => (long)i)];
        var last = model.Forward(tensor(ids).unsqueeze(0))[0, -1];
        var pair = stack([last[Tokenizer.Encode("A")[0]], last[Tokenizer.Encode("B")[0]]]);
        return pair.softmax(0)[0].item<float>();
    }

    [Fact]
    public async Task PreferA_is_the_mean_of_both_orders_two_way_softmax()
    {
        using var model = TinyModel();
        using var judge = new DecoderChoiceJudge(model, Tokenizer);
        var verdicts = await judge.JudgeAsync(Queries, CancellationToken.None);

        Assert.Equal(Queries.Length, verdicts.Count);
        for (int i = 0; i < Queries.Length; i++)
        {
            var q = Queries[i];
            double aFirst = DirectPreferFirst(model, q.Prompt, q.A, q.B);
            double bFirstMapped = 1 - DirectPreferFirst(model, q.Prompt, q.B, q.A);
            Assert.InRange(verdicts[i].PreferA, 0.0, 1.0);
            Assert.Equal((aFirst + bFirstMapped) / 2, verdicts[i].PreferA, 1e-5);
            Assert.Equal(aFirst > 0.5 == bFirstMapped > 0.5, verdicts[i].OrdersAgree);
        }
    }

    [Fact]
    public async Task Swapping_A_and_B_gives_one_minus_PreferA()
    {
        using var model = TinyModel();
        using var judge = new DecoderChoiceJudge(model, Tokenizer);
        var verdicts = await judge.JudgeAsync(Queries, CancellationToken.None);
        var swapped = await judge.JudgeAsync(Queries.Select(q => q with { A = q.B, B = q.A }).ToArray(), CancellationToken.None);
        for (int i = 0; i < Queries.Length; i++)
        {
            Assert.Equal(1 - verdicts[i].PreferA, swapped[i].PreferA, 1e-5);
            Assert.Equal(verdicts[i].OrdersAgree, swapped[i].OrdersAgree);
        }
    }

    [Fact]
    public async Task One_order_alone_is_that_orders_softmax()
    {
        using var model = TinyModel();
        using var judge = new DecoderChoiceJudge(model, Tokenizer, bothOrders: false);
        var verdict = (await judge.JudgeAsync([Queries[0]], CancellationToken.None)).Single();
        Assert.Equal(DirectPreferFirst(model, Queries[0].Prompt, Queries[0].A, Queries[0].B), verdict.PreferA, 1e-5);
    }

    [Fact]
    public async Task A_judge_prompt_longer_than_the_model_sees_is_a_clear_error()
    {
        using var model = TinyModel();
        using var judge = new DecoderChoiceJudge(model, Tokenizer);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => judge.JudgeAsync([Queries[0], new(new string('x', 60), "a", "b")], CancellationToken.None));
        Assert.Contains("queries[1]", e.Message);
        Assert.Contains("max_position_embeddings is 64", e.Message);
    }

    [Fact]
    public void A_tokenizer_that_splits_the_choice_letters_is_rejected()
    {
        using var model = TinyModel();
        var e = Assert.Throws<ArgumentException>(() => new DecoderChoiceJudge(model, new DoublingTokenizer()));
        Assert.Contains("\"A\" as 2 tokens", e.Message);
    }

    /// <summary>Encodes every character twice: no letter is a single token.</summary>
    sealed class DoublingTokenizer : ITokenizer
    {
        public int VocabSize => Tokenizer.VocabSize;
        public int PadId => Tokenizer.PadId;
        public int EosId => Tokenizer.EosId;
        public int? BosId => Tokenizer.BosId;
        public IReadOnlyList<int> Encode(string text) => Tokenizer.Encode(text).SelectMany(i => new[] { i, i }).ToArray();
        public string Decode(IEnumerable<int> ids) => Tokenizer.Decode(ids);
        public string? TokenText(int id) => Tokenizer.TokenText(id);
    }
}

using RlhfActors.Tests.Model;
using RlhfActors.Training.Data;
using RlhfActors.Training.Model;
using RlhfActors.Training.Peft;
using RlhfActors.Training.Preference;
using RlhfActors.Training.Tokenization;

namespace RlhfActors.Tests.Preference;

public sealed class DpoLearnerTests
{
    static readonly CharTokenizer Tok = CharTokenizer.Instance;
    static DecoderModel CharModel(long seed) => TinyModels.Create(TinyModels.Llama() with { VocabSize = Tok.VocabSize }, seed, std: 0.02);

    /// <summary>Prompt: two letters and '='. Preferred answer: "L" when the first letter is in a–m, else "H"; the
    /// other answer is rejected. The second letter is noise, so held-out prompts test the rule, not memory.</summary>
    static (PreferencePair[] Train, PreferencePair[] HeldOut) LetterRule()
    {
        var all = (from a in Enumerable.Range('a', 26) from b in Enumerable.Range('a', 26)
                   let prompt = $"{(char)a}{(char)b}="
                   let low = a < 'n'
                   select new PreferencePair(prompt, low ? "L" : "H", low ? "H" : "L")).ToArray();
        new Random(0).Shuffle(all);
        return (all[..200], all[200..300]);
    }

    static double LogRatioGap((float Chosen, float Rejected)[] rows) => rows.Average(r => r.Chosen - r.Rejected);

    [Fact]
    public void Dpo_learns_a_preference_rule_that_holds_on_unseen_prompts()
    {
        var (train, heldOut) = LetterRule();
        using var policy = CharModel(11);
        using var reference = CharModel(11);
        var options = new DpoOptions { Beta = 0.5, BatchSize = 32, LearningRate = 3e-3 };
        using var learner = new DpoLearner(policy, reference, Tok, options);
        double before = learner.Evaluate(heldOut).Accuracy;
        var random = new Random(1);
        DpoStepMetrics last = null!;
        for (int step = 0; step < 100; step++)
            last = learner.Step(train.OrderBy(_ => random.Next()).Take(options.BatchSize).ToArray(), null, options.LearningRate);
        var after = learner.Evaluate(heldOut);
        Assert.True(after.Accuracy >= 0.9, $"held-out preference accuracy {before:F2} → {after.Accuracy:F2} (last loss {last.Loss:F3})");
        Assert.True(after.Margin > 0);
        Assert.Equal(100, learner.StepsDone);
    }

    [Theory]
    [InlineData(DpoLossType.Sigmoid)]
    [InlineData(DpoLossType.Ipo)]
    [InlineData(DpoLossType.Robust)]
    [InlineData(DpoLossType.Simpo)]
    [InlineData(DpoLossType.Orpo)]
    public void One_step_increases_the_chosen_minus_rejected_log_prob_on_the_trained_pairs(DpoLossType type)
    {
        var (train, _) = LetterRule();
        var batch = train[..16];
        using var policy = CharModel(3);
        using var reference = CharModel(3);
        using var learner = new DpoLearner(policy, reference, Tok, new DpoOptions { LossType = type, LabelSmoothing = 0 });
        double before = LogRatioGap(PreferenceLogProbs.Rows(policy, Tok, batch));
        var metrics = learner.Step(batch, null, learningRate: 1e-3);
        double after = LogRatioGap(PreferenceLogProbs.Rows(policy, Tok, batch));
        Assert.True(after > before, $"{type}: mean log π(c) − log π(r) {before:F4} → {after:F4}");
        Assert.True(metrics.GradNorm > 0);
        Assert.Equal(16, metrics.Pairs);
    }

    /// <summary>KTO on the pairs unpaired: one step raises the desirable completions' log-probs relative to the
    /// undesirable ones, and reports its reference point, its rewards and no accuracy.</summary>
    [Fact]
    public void One_kto_step_raises_desirable_over_undesirable_completions()
    {
        var pairs = LetterRule().Train[..8];
        using var policy = CharModel(3);
        using var reference = CharModel(3);
        using var learner = new DpoLearner(policy, reference, Tok, new DpoOptions { LossType = DpoLossType.Kto, Beta = 0.5 });
        var (rows, labels) = KtoBatch.Rows(KtoBatch.Unpair(pairs));
        double before = LogRatioGap(PreferenceLogProbs.Rows(policy, Tok, pairs));
        var metrics = learner.Step(rows, null, learningRate: 1e-3, labels: labels);
        double after = LogRatioGap(PreferenceLogProbs.Rows(policy, Tok, pairs));
        Assert.True(after > before, $"mean log π(c) − log π(r) {before:F4} → {after:F4}");
        Assert.Equal(0.0, metrics.Logged["kl"], 1e-5);     // policy = reference before the step: z0 = max(0, 0)
        Assert.True(double.IsNaN(metrics.Accuracy));
        Assert.Throws<ArgumentException>(() => learner.Step(rows, null, 1e-3));   // KTO rows need their labels
    }

    [Fact]
    public void Rpo_adds_alpha_times_the_chosen_nll_and_raises_the_chosen_log_prob_where_dpo_alone_does_less()
    {
        var batch = LetterRule().Train[..16];
        using var reference = CharModel(5);
        double ChosenAfterOneStep(double alpha, out DpoStepMetrics metrics)
        {
            using var policy = CharModel(5);
            using var learner = new DpoLearner(policy, reference, Tok, new DpoOptions { Beta = 0.1, RpoAlpha = alpha });
            metrics = learner.Step(batch, null, learningRate: 1e-3);
            return PreferenceLogProbs.Rows(policy, Tok, batch).Average(r => r.Chosen);
        }
        var start = PreferenceLogProbs.Rows(reference, Tok, batch);
        double nll = -start.Sum(r => r.Chosen) / batch.Sum(p => Tok.Encode(p.Chosen).Count + 1);   // completion + eos
        double dpo = ChosenAfterOneStep(0, out var plain), rpo = ChosenAfterOneStep(1.0, out var withNll);
        // At the first step the policy is the reference: DPO's loss is log 2, and RPO adds exactly α·nll.
        Assert.Equal(Math.Log(2), plain.Loss, 1e-5);
        Assert.Equal(Math.Log(2) + nll, withNll.Loss, 1e-4);
        Assert.True(rpo > dpo && rpo > start.Average(r => r.Chosen), $"mean log π(chosen): start {start.Average(r => r.Chosen):F4}, dpo {dpo:F4}, rpo {rpo:F4}");
    }

    [Fact]
    public void At_the_first_step_the_policy_is_the_reference_so_dpo_is_log_2_and_ipo_1_over_4_beta_squared()
    {
        var batch = LetterRule().Train[..8];
        using var policy = CharModel(4);
        using var reference = CharModel(4);
        using var dpo = new DpoLearner(policy, reference, Tok, new DpoOptions { Beta = 0.1 });
        var first = dpo.Step(batch, null, 1e-3);
        Assert.Equal(Math.Log(2), first.Loss, 1e-5);
        Assert.Equal(0.0, first.Margin, 1e-5);

        using var ipoPolicy = CharModel(4);
        using var ipo = new DpoLearner(ipoPolicy, reference, Tok, new DpoOptions { Beta = 0.5, LossType = DpoLossType.Ipo });
        Assert.Equal(1.0, ipo.Step(batch, null, 1e-3).Loss, 1e-5);
    }

    [Fact]
    public void Precomputed_reference_log_probs_give_the_same_update_as_the_reference_model()
    {
        var batch = LetterRule().Train[..8];
        using var withModel = CharModel(6);
        using var withRows = CharModel(6);
        using var reference = CharModel(9);
        var options = new DpoOptions { Beta = 0.2 };
        using var a = new DpoLearner(withModel, reference, Tok, options);
        using var b = new DpoLearner(withRows, null, Tok, options);
        var cache = new ReferenceLogProbCache();
        var missing = cache.Missing(batch);
        foreach (var (pair, row) in missing.Zip(PreferenceLogProbs.Rows(reference, Tok, missing))) cache.Add(pair, row);
        var rows = batch.Select(p => cache.TryGet(p, out var r) ? r : throw new InvalidOperationException()).ToArray();

        var ma = a.Step(batch, null, 1e-2);
        var mb = b.Step(batch, rows, 1e-2);

        Assert.Equal(ma.Loss, mb.Loss, 6);
        Assert.Equal(ma.RewardsChosen, mb.RewardsChosen, 6);
        var wa = ModelFactory.ExportWeights(withModel);
        var wb = ModelFactory.ExportWeights(withRows);
        Assert.All(wa.Zip(wb), pair => Assert.Equal(pair.First.Data, pair.Second.Data));
    }

    [Fact]
    public void Under_lora_the_reference_is_the_base_model_with_the_adapters_off()
    {
        var (train, heldOut) = LetterRule();
        using var policy = CharModel(8);
        using var untouchedBase = CharModel(8);
        Lora.Attach(policy, new LoraSettings { Rank = 4, Alpha = 8 }, seed: 1);
        using var learner = new DpoLearner(policy, null, Tok, new DpoOptions { Beta = 0.5 });

        // Adapters start at B = 0, so the policy is its base: the first loss is log 2.
        Assert.Equal(Math.Log(2), learner.Step(train[..16], null, 1e-2).Loss, 1e-5);
        for (int step = 1; step < 10; step++) learner.Step(train[(16 * step)..(16 * step + 16)], null, 1e-2);

        var baseRows = PreferenceLogProbs.Rows(untouchedBase, Tok, heldOut);
        var offRows = Lora.WithAdaptersOff(policy, () => PreferenceLogProbs.Rows(policy, Tok, heldOut));
        Assert.All(baseRows.Zip(offRows), p => Assert.Equal(p.First.Chosen, p.Second.Chosen, 1e-5));
        var (given, own) = (learner.Evaluate(heldOut, baseRows), learner.Evaluate(heldOut));
        Assert.Equal(given.Accuracy, own.Accuracy);
        Assert.Equal(given.Margin, own.Margin, 1e-5);
        Assert.True(own.Margin > 0);
    }

    [Fact]
    public void A_reference_based_loss_with_no_reference_is_refused_but_simpo_needs_none()
    {
        var batch = LetterRule().Train[..4];
        using var policy = CharModel(1);
        using var dpo = new DpoLearner(policy, null, Tok, new DpoOptions());
        var e = Assert.Throws<ArgumentException>(() => dpo.Step(batch, null, 1e-3));
        Assert.Contains("reference", e.Message);
        using var simpo = new DpoLearner(policy, null, Tok, new DpoOptions { LossType = DpoLossType.Simpo, Beta = 2.0 });
        Assert.True(double.IsFinite(simpo.Step(batch, null, 1e-3).Loss));
    }

    [Fact]
    public void Invalid_options_are_refused_at_construction_naming_the_field()
    {
        using var policy = CharModel(1);
        var e = Assert.Throws<ArgumentException>(() => new DpoLearner(policy, null, Tok, new DpoOptions { LabelSmoothing = 0.7 }));
        Assert.Contains("dpo.label_smoothing", e.Message);
    }
}

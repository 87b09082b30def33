using RlhfActors.Training.Rl;
using RlhfActors.Training.Rl.Ppo;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Ppo;

public sealed class PpoMathTests
{
    static Tensor T(float[,] x) => tensor(x);
    static float[] Flat(Tensor t) => t.data<float>().ToArray();

    // Row 0: three real tokens. Row 1: two real tokens, then padding holding garbage that must not leak in.
    static readonly Tensor Mask = T(new float[,] { { 1, 1, 1 }, { 1, 1, 0 } });
    static readonly Tensor Rewards = T(new float[,] { { 0, 0, 1 }, { 0.2f, 2, 9 } });
    static readonly Tensor Values = T(new float[,] { { 0.5f, 0.4f, 0.6f }, { 1.0f, -0.5f, 7 } });

    [Fact]
    public void Gae_matches_the_recursion_written_out_by_hand_and_ignores_padding()
    {
        // γ = 0.9, λ = 0.8, γλ = 0.72.
        // Row 0: δ2 = 1 − 0.6 = 0.4                 A2 = 0.4
        //        δ1 = 0.9·0.6 − 0.4 = 0.14           A1 = 0.14 + 0.72·0.4 = 0.428
        //        δ0 = 0.9·0.4 − 0.5 = −0.14          A0 = −0.14 + 0.72·0.428 = 0.16816
        // Row 1: δ1 = 2 − (−0.5) = 2.5 (V2 masked)   A1 = 2.5
        //        δ0 = 0.2 + 0.9·(−0.5) − 1 = −1.25   A0 = −1.25 + 0.72·2.5 = 0.55
        var (advantages, returns) = Gae.Compute(Rewards, Values, Mask, gamma: 0.9, lambda: 0.8);
        var expectedA = new[] { 0.16816f, 0.428f, 0.4f, 0.55f, 2.5f, 0f };
        var expectedR = new[] { 0.66816f, 0.828f, 1.0f, 1.55f, 2.0f, 0f };   // A + V, 0 on padding
        Assert.Equal(expectedA, Flat(advantages), new FloatTolerance(1e-5f));
        Assert.Equal(expectedR, Flat(returns), new FloatTolerance(1e-5f));
        Assert.False(advantages.requires_grad);
    }

    [Fact]
    public void Gae_with_gamma_and_lambda_one_is_reward_to_go_minus_the_value()
    {
        // Row 0: Σ r = 1 from every position. Row 1: 2.2 then 2.
        var (advantages, returns) = Gae.Compute(Rewards, Values, Mask, gamma: 1, lambda: 1);
        Assert.Equal(new[] { 0.5f, 0.6f, 0.4f, 1.2f, 2.5f, 0f }, Flat(advantages), new FloatTolerance(1e-5f));
        Assert.Equal(new[] { 1f, 1f, 1f, 2.2f, 2f, 0f }, Flat(returns), new FloatTolerance(1e-5f));
    }

    [Fact]
    public void Whitening_gives_masked_mean_zero_and_variance_one_with_zero_padding()
    {
        var x = T(new float[,] { { 3, -1, 4, 100 }, { 1, 5, 9, -100 } });
        var mask = T(new float[,] { { 1, 1, 1, 0 }, { 1, 1, 1, 0 } });
        var whitened = Whitening.Whiten(x, mask);
        Assert.Equal(0.0, Whitening.MaskedMean(whitened, mask).ToDouble(), 5);
        Assert.Equal(1.0, Whitening.MaskedVariance(whitened, mask).ToDouble(), 4);
        Assert.Equal(0f, whitened[0, 3].item<float>());
        Assert.Equal(0f, whitened[1, 3].item<float>());

        var kept = Whitening.Whiten(x, mask, shiftMean: false);
        Assert.Equal(Whitening.MaskedMean(x, mask).ToDouble(), Whitening.MaskedMean(kept, mask).ToDouble(), 4);   // 21/6 = 3.5
        Assert.Equal(1.0, Whitening.MaskedVariance(kept, mask).ToDouble(), 4);
    }

    static readonly Tensor Logp = T(new float[,] { { -1.0f, -2.0f, -0.5f }, { -0.3f, -1.5f, 0 } });
    static readonly Tensor RefLogp = T(new float[,] { { -1.5f, -1.0f, -0.5f }, { -0.1f, -1.0f, 0 } });
    static readonly Tensor Scores = tensor(new float[] { 1, 2 });

    [Fact]
    public void Ppo_rewards_put_the_score_on_the_last_real_token_only()
    {
        var output = PpoRewards.Compute(Scores, Logp, RefLogp, Mask, beta: 0.1, KlEstimator.K1, klInReward: false);
        Assert.Equal(new[] { 0f, 0, 1, 0, 2, 0 }, Flat(output.Rewards));
        // k1 = logp − ref: 0.5, −1, 0, −0.2, −0.5 over the five real tokens.
        Assert.Equal(-1.2 / 5, output.MeanKl!.Value, 5);
    }

    [Fact]
    public void Ppo_rewards_with_the_kl_in_the_reward_subtract_beta_times_k1_per_token()
    {
        var output = PpoRewards.Compute(Scores, Logp, RefLogp, Mask, beta: 0.1, KlEstimator.K1, klInReward: true);
        // r_t = −0.1·(logp − ref) + score at the last token.
        var expected = new[] { -0.05f, 0.1f, 1f, 0.02f, 0.05f + 2, 0f };
        Assert.Equal(expected, Flat(output.Rewards), new FloatTolerance(1e-6f));
        Assert.Null(PpoRewards.Compute(Scores, Logp, null, Mask, beta: 0, KlEstimator.K1, klInReward: true).MeanKl);
        Assert.Throws<ArgumentException>(() => PpoRewards.Compute(Scores, Logp, null, Mask, beta: 0.1, KlEstimator.K1, klInReward: true));
    }

    [Fact]
    public void Value_loss_takes_the_pessimistic_clipped_branch_written_out_by_hand()
    {
        // (0,0): V 1.0, V_old 0.5 → V_clip 0.7; (1 − 2)² = 1 < (0.7 − 2)² = 1.69: clipped branch, counted.
        // (0,1): V 0, V_old 0.1 → within ε: 0 either way.  (1,0): V = V_old = 0.5, R 0: 0.25.  (1,1): padding.
        // loss = ½·(1.69 + 0 + 0.25)/3 = 0.323333, clip fraction 1/3.
        var values = T(new float[,] { { 1.0f, 0.0f }, { 0.5f, 9 } }).requires_grad_();
        var old = T(new float[,] { { 0.5f, 0.1f }, { 0.5f, 0 } });
        var returns = T(new float[,] { { 2.0f, 0.0f }, { 0.0f, 0 } });
        var mask = T(new float[,] { { 1, 1 }, { 1, 0 } });
        var output = ValueLoss.Compute(values, old, returns, mask, clipRange: 0.2);
        Assert.Equal(0.323333, output.Loss.ToDouble(), 5);
        Assert.Equal(1.0 / 3, output.ClipFraction, 6);
        output.Loss.backward();
        // The clipped element has no gradient; the unclipped (1,0) has ½·2·(0.5 − 0)/3.
        Assert.Equal(new[] { 0f, 0f, 1f / 6, 0f }, Flat(values.grad!), new FloatTolerance(1e-6f));
    }

    [Fact]
    public void Explained_variance_is_one_for_exact_values_and_zero_for_the_mean()
    {
        var returns = T(new float[,] { { 1, 2, 3 }, { 4, 5, 0 } });
        var mask = T(new float[,] { { 1, 1, 1 }, { 1, 1, 0 } });
        Assert.Equal(1.0, ExplainedVariance.Compute(returns, returns, mask), 6);
        Assert.Equal(0.0, ExplainedVariance.Compute(full_like(returns, 3.0f), returns, mask), 6);
    }

    [Fact]
    public void Minibatch_plan_covers_every_row_once_per_epoch_and_is_the_same_for_the_same_step()
    {
        var plan = MiniBatchPlan.Rows(rows: 10, epochs: 3, miniBatches: 4, step: 7);
        Assert.Equal(12, plan.Count);
        for (int epoch = 0; epoch < 3; epoch++)
            Assert.Equal(Enumerable.Range(0, 10), plan.Skip(epoch * 4).Take(4).SelectMany(r => r).Order());
        Assert.Equal(plan, MiniBatchPlan.Rows(10, 3, 4, 7));
        Assert.NotEqual(plan[0], plan[4]);   // a fresh shuffle each epoch
        Assert.Throws<ArgumentException>(() => MiniBatchPlan.Rows(rows: 3, epochs: 1, miniBatches: 4, step: 0));
    }

    [Fact]
    public void Ppo_options_name_every_invalid_field()
    {
        Assert.Empty(new PpoOptions().Errors());
        var errors = new PpoOptions { Lambda = 2, ClipRange = 1, Epochs = 0, MiniBatches = 0, Beta = -1 }.Errors();
        Assert.Equal(5, errors.Count);
        Assert.Contains(errors, e => e.StartsWith("ppo.lam "));
        Assert.Contains(errors, e => e.StartsWith("ppo.cliprange "));
        Assert.Contains(errors, e => e.StartsWith("ppo.num_ppo_epochs "));
        Assert.Contains(errors, e => e.StartsWith("ppo.num_mini_batches "));
        Assert.Contains(errors, e => e.StartsWith("ppo.kl_coef "));
    }

    sealed class FloatTolerance(float tolerance) : IEqualityComparer<float>
    {
        public bool Equals(float x, float y) => Math.Abs(x - y) <= tolerance;
        public int GetHashCode(float obj) => 0;
    }
}

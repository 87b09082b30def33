using RlhfActors.Training.Rl;
using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Rl;

public sealed class ShapingAndOptionsTests
{
    [Fact]
    public void Truncated_is_weights_are_the_capped_old_over_behaviour_ratio_and_detached()
    {
        using var scope = NewDisposeScope();
        var behaviour = tensor(new[] { (float)Math.Log(0.5), (float)Math.Log(0.5), (float)Math.Log(0.1) }).unsqueeze(0);
        var old = tensor(new[] { (float)Math.Log(0.5), (float)Math.Log(0.75), (float)Math.Log(0.5) }).unsqueeze(0).requires_grad_();
        // 0.5/0.5 = 1;  0.75/0.5 = 1.5;  0.5/0.1 = 5 → capped at 2
        var w = ImportanceCorrection.TruncatedIs(behaviour, old, cap: 2.0);
        var got = w.data<float>().ToArray();
        Assert.Equal(1.0, got[0], 5);
        Assert.Equal(1.5, got[1], 5);
        Assert.Equal(2.0, got[2], 5);
        Assert.False(w.requires_grad);
        Assert.Throws<ArgumentOutOfRangeException>(() => ImportanceCorrection.TruncatedIs(behaviour, old, 0));
    }

    [Theory]
    // max 20, buffer 4: no penalty up to 16, then −(len − 16)/4, −1 beyond 20.
    [InlineData(10, 0.0)]
    [InlineData(16, 0.0)]
    [InlineData(17, -0.25)]
    [InlineData(18, -0.5)]
    [InlineData(19, -0.75)]
    [InlineData(20, -1.0)]
    [InlineData(21, -1.0)]
    public void Overlong_penalty_is_zero_then_a_linear_ramp_then_minus_one(int length, double expected) =>
        Assert.Equal(expected, OverlongShaping.Penalty(length, maxLength: 20, bufferLength: 4), 12);

    [Fact]
    public void Overlong_penalty_is_off_with_a_zero_buffer_and_rejects_a_buffer_longer_than_the_limit()
    {
        Assert.Equal(0.0, OverlongShaping.Penalty(25, 20, 0));
        Assert.Throws<ArgumentOutOfRangeException>(() => OverlongShaping.Penalty(5, 20, 21));
        Assert.Throws<ArgumentOutOfRangeException>(() => OverlongShaping.Penalty(5, 20, -1));
    }

    [Fact]
    public void Mask_truncated_zeroes_the_rows_of_truncated_sequences_only()
    {
        using var scope = NewDisposeScope();
        var mask = tensor(new float[] { 1, 1, 1, 1, 1, 0 }, 2, 3);
        var masked = OverlongShaping.MaskTruncated(mask, tensor(new[] { true, false }));
        Assert.Equal(new float[] { 0, 0, 0, 1, 1, 0 }, masked.data<float>().ToArray());
        Assert.Equal(new float[] { 1, 1, 1, 1, 1, 0 }, mask.data<float>().ToArray());   // input untouched
    }

    [Fact]
    public void Default_options_are_valid_and_follow_trl()
    {
        var o = new GrpoOptions();
        Assert.Empty(o.Errors());
        o.Validate();
        Assert.Equal(8, o.NumGenerations);
        Assert.Equal(0.0, o.Beta);
        Assert.Equal(LossAggregation.Dapo, o.Aggregation);
        Assert.Equal(KlEstimator.K3, o.KlEstimator);
        Assert.Equal(256, o.MaxCompletionLength);
    }

    static readonly Dictionary<string, GrpoOptions> Bad = new()
    {
        ["num_generations"] = new() { NumGenerations = 1 },
        ["beta"] = new() { Beta = -0.1 },
        ["epsilon_low"] = new() { EpsilonLow = 1 },
        ["epsilon_high"] = new() { EpsilonHigh = -1 },
        ["num_iterations"] = new() { NumIterations = 0 },
        ["temperature"] = new() { Temperature = 0 },
        ["max_completion_length"] = new() { MaxCompletionLength = 0 },
        ["learning_rate"] = new() { LearningRate = double.NaN },
        ["overlong_buffer"] = new() { OverlongBuffer = 300 },
        ["max_staleness"] = new() { MaxStaleness = -1 },
        ["is_cap"] = new() { IsCap = 0.5 },
        ["loss_type"] = new() { Aggregation = (LossAggregation)7 },
    };

    [Theory]
    [InlineData("num_generations", "grpo.num_generations must be >= 2 (got 1)")]
    [InlineData("beta", "grpo.beta must be >= 0 (got -0.1)")]
    [InlineData("epsilon_low", "grpo.epsilon_low must be in [0, 1) (got 1)")]
    [InlineData("epsilon_high", "grpo.epsilon_high must be >= 0 (got -1)")]
    [InlineData("num_iterations", "grpo.num_iterations must be >= 1 (got 0)")]
    [InlineData("temperature", "grpo.temperature must be > 0 (got 0)")]
    [InlineData("max_completion_length", "grpo.max_completion_length must be >= 1 (got 0)")]
    [InlineData("learning_rate", "grpo.learning_rate must be > 0 (got NaN)")]
    [InlineData("overlong_buffer", "grpo.overlong_buffer must be between 0 (off) and max_completion_length (got 300)")]
    [InlineData("max_staleness", "grpo.max_staleness must be >= 0 (got -1)")]
    [InlineData("is_cap", "grpo.is_cap must be >= 1 (got 0.5)")]
    [InlineData("loss_type", "grpo.loss_type must be grpo, dapo or dr_grpo (got 7)")]
    public void A_bad_option_is_reported_by_its_field_name(string field, string message)
    {
        var options = Bad[field];
        Assert.Equal([message], options.Errors());
        var e = Assert.Throws<ArgumentException>(options.Validate);
        Assert.Contains(message, e.Message);
    }
}

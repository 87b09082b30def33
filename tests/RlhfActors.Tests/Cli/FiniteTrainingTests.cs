using RlhfActors.Tests.IO;
using RlhfActors.Training.Checkpoints;
using RlhfActors.Training.Optim;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.Cli;

/// <summary>A diverged run fails, and NaN weights are never written.</summary>
public sealed class FiniteTrainingTests : IDisposable
{
    readonly TempFolder _folder = new();
    public void Dispose() => _folder.Dispose();

    [Fact]
    public async Task A_diverging_run_fails_naming_the_step_and_writes_no_checkpoint()
    {
        var output = Path.Combine(_folder.Path, "out");
        var text = TinyYaml.With(TinyYaml.Text(output), "  learning_rate: 0.01", "  learning_rate: 1e9");
        var run = await CliRunner.RunAsync("run", _folder.Write("diverge.yaml", text), "--json");

        Assert.True(run.ExitCode == 1, run.ToString());
        var result = CliRunner.LastJson(run.Stdout);
        Assert.Equal("Failed", result.GetProperty("state").GetString());
        var error = result.GetProperty("error").GetString()!;
        Assert.Contains("sft step", error);
        Assert.Contains("max_nonfinite_steps: 3", error);
        Assert.DoesNotContain("   at ", run.Stderr);
        Assert.Empty(Directory.Exists(output) ? Directory.GetDirectories(output, "checkpoint-*") : []);
    }

    [Fact]
    public void Non_finite_updates_are_skipped_and_counted_until_the_limit()
    {
        var guard = new FiniteUpdates(maxNonfiniteSteps: 2, "grpo");
        Assert.True(guard.Admit(0.5, 1.0, 1));
        Assert.False(guard.Admit(double.NaN, 1.0, 2));
        Assert.False(guard.Admit(0.5, double.PositiveInfinity, 3));
        Assert.Equal(2, guard.Skipped);
        var e = Assert.Throws<NonFiniteTrainingException>(() => guard.Admit(double.NaN, double.NaN, 4));
        Assert.Contains("grpo step 4", e.Message);
    }

    [Theory]
    [InlineData("F32", new byte[] { 0, 0, 0x80, 0x3F, 0, 0, 0xC0, 0x7F }, 1)] // 1.0, NaN
    [InlineData("F32", new byte[] { 0, 0, 0x80, 0x7F }, 0)]                   // +inf
    [InlineData("BF16", new byte[] { 0x80, 0x3F, 0x80, 0xFF }, 1)]            // 1.0, -inf
    [InlineData("F16", new byte[] { 0x00, 0x3C, 0x01, 0x7C }, 1)]             // 1.0, NaN
    public void Non_finite_weights_are_found_in_every_float_format(string dtype, byte[] data, long index)
    {
        var tensor = new TensorBytes("w", dtype, [data.Length / (dtype == "F32" ? 4 : 2)], data);
        Assert.Equal(("w", index), FiniteWeights.FirstNonFinite([tensor]));
        Assert.Null(FiniteWeights.FirstNonFinite([tensor with { Data = new byte[data.Length] }]));
    }

    [Fact]
    public void A_checkpoint_of_nan_weights_is_refused_and_nothing_is_left()
    {
        var weights = TinyModel.Weights().ToArray();
        var norm = Array.FindIndex(weights, w => w.DType == "F32");
        var data = new byte[weights[norm].Data.Length];
        BitConverter.GetBytes(float.NaN).CopyTo(data, 4);
        weights[norm] = weights[norm] with { Data = data };
        var dir = Path.Combine(_folder.Path, "checkpoint-5");

        var e = Assert.Throws<NonFiniteWeightsException>(() =>
            CheckpointWriter.Write(dir, TinyModel.Config, weights, [], "{}", 5, new Dictionary<string, string>()));
        Assert.Contains("model.norm.weight", e.Message);
        Assert.Empty(Directory.GetFileSystemEntries(_folder.Path));
    }
}

using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Tests.Runtime;

/// <summary>The build patches libLibTorchSharp.so where the system libstdc++ is too old (see docs/torchsharp-on-debian.md);
/// these tests fail with TypeInitializationException if that did not happen.</summary>
public sealed class TorchLoadsTests
{
    [Fact]
    public void Torch_loads_and_multiplies_matrices_correctly()
    {
        using var scope = NewDisposeScope();
        var a = tensor(new float[] { 1, 2, 3, 4 }, 2, 2);
        var b = tensor(new float[] { 5, 6, 7, 8 }, 2, 2);
        var c = a.matmul(b);
        Assert.Equal(new float[] { 19, 22, 43, 50 }, c.data<float>().ToArray());
    }

    [Fact]
    public void Bf16_matmul_agrees_with_fp32_within_bf16_precision()
    {
        using var scope = NewDisposeScope();
        var gen = new Generator(7);
        var a = randn(64, 64, generator: gen);
        var b = randn(64, 64, generator: gen);
        var exact = a.matmul(b);
        var half = a.to(ScalarType.BFloat16).matmul(b.to(ScalarType.BFloat16)).to(ScalarType.Float32);
        double relErr = ((half - exact).norm() / exact.norm()).item<float>();
        Assert.InRange(relErr, 0.0, 0.02);
    }
}

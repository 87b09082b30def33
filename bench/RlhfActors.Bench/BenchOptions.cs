using static TorchSharp.torch;

namespace RlhfActors.Bench;

/// <summary>Command-line options shared by every benchmark.</summary>
/// <param name="Threads">torch.set_num_threads value; null leaves libtorch's default (one per physical core).</param>
/// <param name="Quick">Small sizes: a smoke run that checks the program works, not a measurement.</param>
public sealed record BenchOptions(int? Threads, bool Quick)
{
    public static readonly ScalarType[] DTypes = { ScalarType.Float32, ScalarType.BFloat16 };

    public static string Name(ScalarType dtype) => dtype switch
    {
        ScalarType.Float32 => "fp32",
        ScalarType.BFloat16 => "bf16",
        _ => dtype.ToString(),
    };
}

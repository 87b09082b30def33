using static TorchSharp.torch;

namespace RlhfActors.Bench;

/// <summary>
/// Dense n×n matrix-product throughput: the ceiling the model code can reach on this CPU, and the peak the
/// sft-step benchmark divides by. One product is 2·n³ FLOP (n³ multiply-adds).
/// </summary>
public static class GemmBench
{
    const int WarmupRuns = 2;

    public static int[] Sizes(BenchOptions options) => options.Quick ? new[] { 256, 512 } : new[] { 512, 1024, 2048 };

    static int Runs(BenchOptions options) => options.Quick ? 3 : 10;

    public static void Run(BenchOptions options)
    {
        foreach (var dtype in BenchOptions.DTypes)
        foreach (var n in Sizes(options))
        {
            double gflops = MeasureGflops(dtype, n, Runs(options));
            JsonLine.Write("gemm", ("dtype", BenchOptions.Name(dtype)), ("n", n), ("gflops", gflops), ("runs", Runs(options)));
        }
    }

    /// <summary>The best size's figure: what "peak" means for the sft-step ratio.</summary>
    public static (double Gflops, int N) Peak(ScalarType dtype, BenchOptions options) =>
        Sizes(options).Select(n => (MeasureGflops(dtype, n, Runs(options)), n)).MaxBy(x => x.Item1);

    /// <summary>Median GFLOP/s of <paramref name="runs"/> timed products after a warm-up that lets libtorch
    /// pick its kernel and the allocator settle.</summary>
    public static double MeasureGflops(ScalarType dtype, int n, int runs)
    {
        JsonLine.Progress($"gemm {BenchOptions.Name(dtype)} n={n}");
        using var outer = NewDisposeScope();
        // Operands made in fp32 and cast, so both dtypes multiply the same values.
        var a = randn(n, n).to(dtype);
        var b = randn(n, n).to(dtype);
        var times = new List<double>();
        for (int i = 0; i < WarmupRuns + runs; i++)
        {
            using var scope = NewDisposeScope();
            double seconds = Timing.Seconds(() => a.matmul(b));
            if (i >= WarmupRuns) times.Add(seconds);
        }
        return 2.0 * n * n * (double)n / Timing.Median(times) / 1e9;
    }
}

using RlhfActors.Bench;
using static TorchSharp.torch;

// dotnet run --project bench/RlhfActors.Bench -c Release -- <gemm|sampling|sft-step|pipeline|cluster|recovery|peft|peft-quality|delta|sync|allreduce|all> [--threads N] [--quick]
// Results: one JSON object per line on stdout. Progress: stderr.

const string Usage = "usage: bench <gemm|sampling|sft-step|pipeline|cluster|recovery|peft|peft-quality|delta|sync|allreduce|all> [--threads N] [--quick]";
var benches = new Dictionary<string, Action<BenchOptions>>
{
    ["gemm"] = GemmBench.Run,
    ["sampling"] = SamplingBench.Run,
    ["sft-step"] = SftStepBench.Run,
    ["pipeline"] = PipelineBench.Run,
    ["cluster"] = ClusterBench.Run,
    ["recovery"] = RecoveryBench.Run,
    ["peft"] = PeftBench.Run,
    ["peft-quality"] = PeftQualityBench.Run,
    ["delta"] = DeltaBench.Run,
    ["sync"] = SyncBench.Run,
    ["allreduce"] = AllReduceBench.Run,
};

if (args.Length == 0 || (args[0] != "all" && !benches.ContainsKey(args[0])))
{
    Console.Error.WriteLine(Usage);
    return 2;
}
int? threads = null;
bool quick = false;
for (int i = 1; i < args.Length; i++)
{
    if (args[i] == "--quick") quick = true;
    else if (args[i] == "--threads" && i + 1 < args.Length && int.TryParse(args[i + 1], out var n) && n > 0) threads = n; // consumes the value
    else
    {
        Console.Error.WriteLine($"unknown or malformed option '{args[i]}'\n{Usage}");
        return 2;
    }
    if (args[i] == "--threads") i++;
}

if (threads is int t) set_num_threads(t);
var options = new BenchOptions(threads, quick);
// First line records the conditions, so a figure is never read without them.
JsonLine.Write("env", ("threads", get_num_threads()), ("cpus", Environment.ProcessorCount), ("quick", quick),
    ("torchsharp", typeof(TorchSharp.torch).Assembly.GetName().Version?.ToString() ?? "?"));
foreach (var (name, run) in benches)
    if (args[0] == "all" || args[0] == name) run(options);
return 0;

using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Logging;
using RlhfActors.Abstractions.Experiments;
using RlhfActors.Training.Evaluation;
using RlhfActors.Training.IO;

namespace RlhfActors.Grains.Experiments.Stages;

/// <summary>
/// Writes a run's held-out evaluation as an <see cref="EvaluationRecord"/> (the record <c>rlhf eval</c> writes) to
/// <c>&lt;output_dir&gt;/evals/eval-&lt;step&gt;.json</c>, so <c>rlhf trace</c> follows a run's score as it follows any
/// other. The model is the published policy version (see <see cref="EvaluationRecord"/>'s remarks); the examples are
/// the run's main held-out set (the forgetting watch's tasks are in the run's status, not recorded here). A record
/// that cannot be written is logged, and the run goes on: the score is in the run's status either way.
/// </summary>
static partial class RunEvalRecord
{
    /// <summary>The digest of a task's held-out set, by task, parameters, seed and count: drawing the examples again
    /// at every evaluation of a large held-out set would cost the controller more than the record is worth.</summary>
    static readonly ConcurrentDictionary<string, EvalData> TaskData = new(StringComparer.Ordinal);

    public static string PathFor(string outputDir, int step) =>
        Path.Combine(Path.GetFullPath(outputDir), "evals", $"eval-{step.ToString(CultureInfo.InvariantCulture)}.json");

    public static async Task WriteAsync(RunContext run, EvalSummary eval)
    {
        var config = run.Config;
        try
        {
            var published = await run.Policy.DescribeLatest();
            var weights = published is { } p && p.Version == eval.PolicyVersion ? p.Sha256 : "";
            var record = new EvaluationRecord
            {
                CreatedUtc = DateTimeOffset.UtcNow,
                Model = new EvalModel
                {
                    Path = Path.GetFullPath(config.OutputDir),
                    Kind = EvalModel.PolicyVersionKind,
                    Digest = weights.Length > 0 ? weights : "(not held by the policy registry)",
                    Step = eval.Step,
                    PolicyVersion = eval.PolicyVersion,
                    Checkpoint = OutputDirectory.Checkpoint(Path.GetFullPath(config.OutputDir), eval.Step),
                },
                Data = Data(config, eval.Examples),
                Sampling = new EvalSampling { MaxNewTokens = config.Eval.MaxNewTokens },
                Scores = new EvalScores { Accuracy = eval.Accuracy, Correct = eval.Correct, Examples = eval.Examples },
                Code = new EvalCode { Version = CodeVersions.Code, TorchSharp = CodeVersions.TorchSharp },
                Seconds = eval.Seconds,
            };
            record.Write(PathFor(config.OutputDir, eval.Step));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or InvalidDataException or ArgumentException or InvalidOperationException)
        {
            LogNotWritten(run.Logger, run.ExperimentId, eval.Step, e.Message);
        }
    }

    /// <param name="examples">How many the sampler scored: an eval file's line count, read by the sampler.</param>
    static EvalData Data(Abstractions.Config.ExperimentConfig config, int examples)
    {
        var data = config.Data;
        if (data.EvalFile is { } file)
        {
            var full = Path.GetFullPath(file);
            return new EvalData { EvalFile = full, Examples = examples, Digest = Hashing.Sha256Hex(full) };
        }
        var key = $"{data.Task}|{string.Join(",", data.TaskParameters.Select(p => $"{p.Key}={p.Value}"))}|{config.Seed}|{data.EvalExamples}";
        return TaskData.GetOrAdd(key, _ => EvalExamples.FromTask(data.Task!, data.TaskParameters, config.Seed, data.EvalExamples).Data);
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Experiment {ExperimentId}: the evaluation record of step {Step} was not written: {Reason}")]
    static partial void LogNotWritten(ILogger logger, string experimentId, int step, string reason);
}

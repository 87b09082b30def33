using RlhfActors.Training.Data;

namespace RlhfActors.Training.Tasks;

/// <summary>Train and held-out examples of a synthetic task.</summary>
public sealed record TaskExamples(IReadOnlyList<PromptCompletion> Train, IReadOnlyList<PromptCompletion> Eval);

/// <summary>
/// Builds a train set and a held-out eval set from a seed. Eval is drawn first from its own RNG stream, so it
/// depends only on the seed and eval count (not on the train count), and holds distinct prompts. Train draws
/// from another stream and skips every prompt that is in eval, so accuracy on eval measures generalisation,
/// not memorisation. Train may repeat prompts (a small task space has to).
/// </summary>
public static class TaskSplit
{
    const int EvalStream = 1;
    const int TrainStream = 2;

    public static TaskExamples Build(ISyntheticTask task, int seed, int trainCount, int evalCount)
    {
        ArgumentNullException.ThrowIfNull(task);
        ArgumentOutOfRangeException.ThrowIfNegative(trainCount);
        ArgumentOutOfRangeException.ThrowIfNegative(evalCount);

        var evalRng = new Random(StableSeed.Derive(seed, EvalStream));
        var evalPrompts = new HashSet<string>(StringComparer.Ordinal);
        var eval = Draw(task, evalRng, evalCount, example => evalPrompts.Add(example.Prompt),
            $"{evalCount} distinct eval prompts");

        var trainRng = new Random(StableSeed.Derive(seed, TrainStream));
        var train = Draw(task, trainRng, trainCount, example => !evalPrompts.Contains(example.Prompt),
            $"{trainCount} train examples whose prompts are not among the {evalCount} eval prompts");
        return new TaskExamples(train, eval);
    }

    /// <summary>Draws until <paramref name="count"/> examples are accepted. The attempt budget is far above what a
    /// roomy task space needs, and turns a space that is too small into an error instead of an endless loop.</summary>
    static List<PromptCompletion> Draw(ISyntheticTask task, Random rng, int count, Func<PromptCompletion, bool> accept, string goal)
    {
        var examples = new List<PromptCompletion>(count);
        long budget = 100L * count + 10_000;
        for (long attempt = 0; examples.Count < count; attempt++)
        {
            if (attempt == budget)
                throw new InvalidOperationException(
                    $"task '{task.Name}' could not supply {goal} ({examples.Count} found in {budget} draws): " +
                    "its space of prompts is too small for these counts; lower the counts or raise the task's difficulty");
            var example = task.Generate(rng);
            if (accept(example)) examples.Add(example);
        }
        return examples;
    }
}

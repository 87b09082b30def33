using RlhfActors.Training.Rollouts.Traces;

namespace RlhfActors.Tests.Traces;

/// <summary>Trace records for the tests: every field set, optional ones both present and nil.</summary>
static class TraceSamples
{
    public static RolloutTraceRecord Batch(int step, int rows = 2, int completionTokens = 3) => new()
    {
        Step = step,
        Stage = "grpo",
        PolicyVersion = 100 + step,
        GroupSize = rows,
        Time = "2026-01-02T03:04:05.0000000+00:00",
        Rows = [.. Enumerable.Range(0, rows).Select(r => new RolloutTraceRow
        {
            Sampler = r % 2,
            Prompt = $"{step}+{r}=",
            Completion = r == 0 ? "ünïcode ✓\nline 2" : $"{step + r}",
            PromptIds = [step, r, 61],
            CompletionIds = [.. Enumerable.Range(0, completionTokens).Select(t => 1000 * r + t)],
            Reference = r == 0 ? null : $"{step + r}",
            Truncated = r == 1,
            Reward = r == 0 ? null : 1.5 * r,
            RewardComponents = r == 0 ? null : new Dictionary<string, double> { ["exact_match"] = 1, ["format"] = 0.25 * r },
            BehaviourLogProbs = [.. Enumerable.Range(0, completionTokens).Select(t => -0.1f * (t + 1) - r / 3f)],
            ReferenceLogProbs = r == 0 ? null : [.. Enumerable.Range(0, completionTokens).Select(t => -0.2f * (t + 1))],
        })],
    };

    public static long SizeOf(RolloutTraceRecord record) => MessagePack.MessagePackSerializer.Serialize(record, TraceFiles.Write).Length;
}

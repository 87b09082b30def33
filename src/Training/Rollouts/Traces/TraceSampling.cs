using RlhfActors.Training.Tasks;

namespace RlhfActors.Training.Rollouts.Traces;

/// <summary>Which batches <c>trace_rollouts: 0.25</c> traces: decided by the run's seed and the step alone (no RNG
/// state), so a resumed run traces the very batches the uninterrupted one would have.</summary>
public static class TraceSampling
{
    // Its own seed stream, apart from the data order's and the samplers'.
    const int Stream = 0x7A4CE;

    public static bool Covers(double fraction, int seed, int step)
    {
        if (fraction >= 1) return true;
        if (fraction <= 0) return false;
        var draw = StableSeed.Derive(StableSeed.Derive(seed, Stream), step);
        return draw / (double)int.MaxValue < fraction;
    }
}

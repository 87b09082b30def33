using Orleans.Storage;

namespace RlhfActors.Grains.Experiments;

/// <summary>Writes of grain state whose activation is its only writer (a controller's record, a registry's index).</summary>
public static class SoleWriter
{
    /// <summary>
    /// Writes <paramref name="state"/>. A write that landed although its answer was lost (Redis restarting) leaves a
    /// stale ETag, and the next write is refused as inconsistent; nobody else writes this state, so the stored ETag is
    /// taken and this activation's state written again.
    /// </summary>
    public static async Task WriteAsync<T>(IPersistentState<T> state)
    {
        try
        {
            await state.WriteStateAsync();
        }
        catch (InconsistentStateException)
        {
            var mine = state.State;
            await state.ReadStateAsync();
            state.State = mine;
            await state.WriteStateAsync();
        }
    }
}

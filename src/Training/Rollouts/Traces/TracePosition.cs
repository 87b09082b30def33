namespace RlhfActors.Training.Rollouts.Traces;

/// <summary>How far a run's traces go: the file being written (1-based; 0 = none yet) and its length. The controller
/// keeps it in its record and in every checkpoint's cursor; a resume cuts the trace files back to it, so no step
/// is traced twice.</summary>
public readonly record struct TracePosition(int File, long Bytes)
{
    public static TracePosition None => default;
}

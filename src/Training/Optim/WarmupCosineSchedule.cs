namespace RlhfActors.Training.Optim;

/// <summary>Linear warm-up from 0 to the peak over <c>warmup</c> steps, then cosine decay to peak × minRatio
/// at <c>total</c> steps. Step numbers are 1-based (the step about to run).</summary>
public sealed record WarmupCosineSchedule(double Peak, int Warmup, int Total, double MinRatio)
{
    public double At(int step)
    {
        if (Warmup > 0 && step <= Warmup) return Peak * step / Warmup;
        if (Total <= Warmup) return Peak;
        double progress = Math.Clamp((double)(step - Warmup) / (Total - Warmup), 0, 1);
        double min = Peak * MinRatio;
        return min + (Peak - min) * 0.5 * (1 + Math.Cos(Math.PI * progress));
    }
}

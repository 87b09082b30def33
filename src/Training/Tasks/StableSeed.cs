namespace RlhfActors.Training.Tasks;

/// <summary>Derives independent RNG seeds from one experiment seed, so that e.g. the eval set does not
/// change when the train count does. SplitMix64 mixing: adjacent inputs give unrelated outputs, and the result
/// is the same on every platform and .NET version (unlike string.GetHashCode).</summary>
public static class StableSeed
{
    public static int Derive(int seed, int stream)
    {
        ulong z = ((ulong)(uint)seed << 32 | (uint)stream) + 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        return (int)(z & 0x7FFFFFFF);
    }
}

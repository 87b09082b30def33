using RlhfActors.Training.Data;
using RlhfActors.Training.Preference;

namespace RlhfActors.Tests.Preference;

public sealed class ReferenceLogProbCacheTests
{
    [Fact]
    public void Missing_returns_only_the_uncached_pairs_once_each_in_order_and_values_round_trip()
    {
        var a = new PreferencePair("p", "x", "y");
        var b = new PreferencePair("p", "y", "x");
        var c = new PreferencePair("q", "x", "y");
        var cache = new ReferenceLogProbCache();
        cache.Add(b, (-1.5f, -2.25f));

        Assert.Equal(new[] { a, c }, cache.Missing(new[] { a, b, c, a }));
        Assert.True(cache.TryGet(new PreferencePair("p", "y", "x"), out var value));
        Assert.Equal((-1.5f, -2.25f), value);
        Assert.False(cache.TryGet(a, out _));
        Assert.Equal(1, cache.Count);

        cache.Add(a, (-0.5f, -4f));
        cache.Add(c, (-3f, -1f));
        Assert.Empty(cache.Missing(new[] { a, b, c }));
        Assert.Equal(3, cache.Count);
    }
}

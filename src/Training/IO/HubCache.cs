namespace RlhfActors.Training.IO;

/// <summary>
/// Finds a Hugging Face hub model id ("org/name") in the local hub cache that transformers and huggingface_hub fill:
/// <c>&lt;cache&gt;/models--org--name/snapshots/&lt;revision&gt;</c>, the revision being the commit <c>refs/main</c> names (or
/// the only snapshot there is). The cache is <c>HF_HUB_CACHE</c>, else <c>HF_HOME/hub</c>, else
/// <c>~/.cache/huggingface/hub</c>, as huggingface_hub resolves it. Nothing is downloaded: a model that is not there
/// is an error saying where it looked.
/// </summary>
public static class HubCache
{
    /// <summary>Whether <paramref name="value"/> reads as a hub id rather than a path: two non-empty parts split by
    /// one '/', neither '.' nor '..'.</summary>
    public static bool LooksLikeHubId(string value)
    {
        var parts = value.Split('/');
        return parts.Length == 2 && parts.All(p => p.Length > 0 && p != "." && p != ".." && !p.Contains('\\'))
               && !Path.IsPathRooted(value) && !value.StartsWith('~');
    }

    /// <summary>The cache folder from the environment, as huggingface_hub resolves it.</summary>
    public static string DefaultRoot()
    {
        if (Environment.GetEnvironmentVariable("HF_HUB_CACHE") is { Length: > 0 } hub) return hub;
        if (Environment.GetEnvironmentVariable("HF_HOME") is { Length: > 0 } home) return Path.Combine(home, "hub");
        return Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".cache", "huggingface", "hub");
    }

    /// <summary>The snapshot folder of <paramref name="hubId"/> in <paramref name="root"/>; throws
    /// <see cref="DirectoryNotFoundException"/> naming where it looked when there is none (or no single one).</summary>
    public static string Resolve(string hubId, string root)
    {
        var repo = Path.Combine(root, "models--" + hubId.Replace("/", "--", StringComparison.Ordinal));
        var snapshots = Path.Combine(repo, "snapshots");
        var main = Path.Combine(repo, "refs", "main");
        if (File.Exists(main))
        {
            var revision = File.ReadAllText(main).Trim();
            var pinned = Path.Combine(snapshots, revision);
            if (revision.Length > 0 && Directory.Exists(pinned)) return pinned;
            throw new DirectoryNotFoundException($"'{hubId}' is not a local folder, and in the Hugging Face cache {main} names revision '{revision}', which {snapshots} does not hold; nothing is downloaded");
        }
        var found = Directory.Exists(snapshots) ? Directory.GetDirectories(snapshots) : [];
        return found.Length switch
        {
            1 => found[0],
            0 => throw new DirectoryNotFoundException($"'{hubId}' is neither a local folder nor in the Hugging Face cache (looked for {snapshots}); nothing is downloaded: fetch it with huggingface-cli download, or give a folder"),
            _ => throw new DirectoryNotFoundException($"'{hubId}' has {found.Length} snapshots in {snapshots} and no refs/main to choose one; give the snapshot folder itself"),
        };
    }
}

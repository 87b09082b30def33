using System.Globalization;
using MessagePack;

namespace RlhfActors.Training.Rollouts.Traces;

/// <summary>Where a run's traces live and how they are encoded: <c>&lt;output_dir&gt;/rollouts/rollouts-000001.msgpack</c>,
/// <c>-000002</c>, … in writing order, each a stream of msgpack maps.</summary>
public static class TraceFiles
{
    public const string FolderName = "rollouts";
    const string Prefix = "rollouts-";
    const string Extension = ".msgpack";

    public static string FolderIn(string outputDir) => Path.Combine(outputDir, FolderName);

    public static string PathOf(string folder, int index) => Path.Combine(folder, $"{Prefix}{index:D6}{Extension}");

    /// <summary>The trace files of <paramref name="folder"/> by index, in order; empty when there is no folder.</summary>
    public static IReadOnlyList<(int Index, string Path)> List(string folder)
    {
        if (!Directory.Exists(folder)) return [];
        return Directory.EnumerateFiles(folder, $"{Prefix}*{Extension}")
            .Select(path => (Name: Path.GetFileName(path), Path: path))
            .Select(f => (Ok: int.TryParse(f.Name.AsSpan(Prefix.Length, f.Name.Length - Prefix.Length - Extension.Length),
                NumberStyles.None, CultureInfo.InvariantCulture, out var index), Index: index, f.Path))
            .Where(f => f.Ok && f.Index > 0)
            .OrderBy(f => f.Index)
            .Select(f => (f.Index, f.Path))
            .ToArray();
    }

    /// <summary>Writing: the standard resolvers (string-keyed maps as the records declare them).</summary>
    public static readonly MessagePackSerializerOptions Write = MessagePackSerializerOptions.Standard;

    /// <summary>Reading: files may come from anywhere, so msgpack's limits for untrusted data apply.</summary>
    public static readonly MessagePackSerializerOptions Read =
        MessagePackSerializerOptions.Standard.WithSecurity(MessagePackSecurity.UntrustedData);
}

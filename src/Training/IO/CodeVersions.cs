using System.Reflection;

namespace RlhfActors.Training.IO;

/// <summary>The versions recorded in provenance: this code (the SDK stamps the git commit into the informational
/// version when it builds from a checkout: <c>1.0.0+0a9daad…</c>), TorchSharp, and the libtorch it runs on.</summary>
public static class CodeVersions
{
    public static string Code { get; } = Informational(typeof(CodeVersions).Assembly);
    public static string TorchSharp { get; } = Informational(typeof(TorchSharp.torch).Assembly);
    /// <summary>libtorch's own version string (<c>torch.__version__</c>); loads the native library.</summary>
    public static string LibTorch => LibTorchVersion.Value;

    static readonly Lazy<string> LibTorchVersion = new(() => global::TorchSharp.torch.__version__);

    static string Informational(Assembly assembly) =>
        assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion
        ?? assembly.GetName().Version?.ToString() ?? "unknown";
}

using System.Security.Cryptography;

namespace RlhfActors.Training.IO;

/// <summary>Lower-case hex SHA-256, the form written into checkpoint manifests and provenance.</summary>
public static class Hashing
{
    /// <summary>Hash of a file's bytes, streamed so multi-gigabyte weights never sit in memory at once.</summary>
    public static string Sha256Hex(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    public static string Sha256Hex(ReadOnlySpan<byte> data) => Convert.ToHexStringLower(SHA256.HashData(data));
}

using System.Security.Cryptography;

namespace RlhfActors.Tests.IO;

/// <summary>How the tests compare two runs' final weights: the SHA-256 of a checkpoint's model.safetensors.</summary>
public static class CheckpointDigest
{
    public static string WeightsSha256(string checkpoint) =>
        Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(Path.Combine(checkpoint, "model.safetensors"))));
}

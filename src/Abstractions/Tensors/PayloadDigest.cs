using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace RlhfActors.Abstractions.Tensors;

/// <summary>SHA-256 over a list of tensors (names, dtypes, shapes and bytes, in order): two parties that hold the
/// same policy version can compare one string instead of the weights.</summary>
public static class PayloadDigest
{
    public static string Sha256(IEnumerable<TensorPayload> tensors)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> number = stackalloc byte[8];
        foreach (var t in tensors)
        {
            AppendString(hash, number, t.Name);
            AppendString(hash, number, t.DType);
            BinaryPrimitives.WriteInt64LittleEndian(number, t.Shape.Length);
            hash.AppendData(number);
            foreach (var d in t.Shape)
            {
                BinaryPrimitives.WriteInt64LittleEndian(number, d);
                hash.AppendData(number);
            }
            BinaryPrimitives.WriteInt64LittleEndian(number, t.Data.Length);
            hash.AppendData(number);
            hash.AppendData(t.Data.Span);
        }
        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    static void AppendString(IncrementalHash hash, Span<byte> number, string s)
    {
        var bytes = Encoding.UTF8.GetBytes(s);
        BinaryPrimitives.WriteInt64LittleEndian(number, bytes.Length);
        hash.AppendData(number);
        hash.AppendData(bytes);
    }
}

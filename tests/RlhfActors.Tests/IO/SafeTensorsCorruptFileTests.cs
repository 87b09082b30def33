using System.Buffers.Binary;
using System.Text;
using RlhfActors.Training.IO;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.IO;

/// <summary>Hand-built broken files: each must fail with InvalidDataException naming the file (and the cause).</summary>
public sealed class SafeTensorsCorruptFileTests : IDisposable
{
    readonly TempDirectory _dir = new();
    public void Dispose() => _dir.Dispose();

    string Raw(byte[] bytes)
    {
        var path = _dir.File($"bad-{Guid.NewGuid():N}.safetensors");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    string Build(string headerJson, int bufferBytes, ulong? headerLengthOverride = null)
    {
        var header = Encoding.UTF8.GetBytes(headerJson);
        var bytes = new byte[8 + header.Length + bufferBytes];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, headerLengthOverride ?? (ulong)header.Length);
        header.CopyTo(bytes, 8);
        return Raw(bytes);
    }

    static void AssertRejected(string path, params string[] fragments)
    {
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.Read(path));
        Assert.Contains(path, e.Message);
        foreach (var f in fragments) Assert.Contains(f, e.Message);
    }

    [Fact] public void Shorter_than_8_bytes() => AssertRejected(Raw(new byte[5]), "shorter than the 8-byte");

    [Fact] public void Header_length_past_end_of_file() => AssertRejected(Build("{}", 0, headerLengthOverride: 500), "past the end");

    [Fact] public void Absurd_header_length() => AssertRejected(Build("{}", 0, headerLengthOverride: ulong.MaxValue), "absurd");

    [Fact] public void Header_not_json() => AssertRejected(Build("{not json", 0), "not valid JSON");

    [Fact] public void Header_not_an_object() => AssertRejected(Build("[1,2]", 0), "expected an object");

    [Fact] public void Unknown_dtype() =>
        AssertRejected(Build("""{"w":{"dtype":"Q4_K","shape":[2],"data_offsets":[0,2]}}""", 2), "'w'", "Q4_K");

    [Fact] public void Negative_shape() =>
        AssertRejected(Build("""{"w":{"dtype":"U8","shape":[-2],"data_offsets":[0,2]}}""", 2), "'w'", "shape");

    [Fact] public void Fractional_shape() =>
        AssertRejected(Build("""{"w":{"dtype":"U8","shape":[1.5],"data_offsets":[0,2]}}""", 2), "'w'", "shape");

    [Fact] public void Offsets_not_a_pair() =>
        AssertRejected(Build("""{"w":{"dtype":"U8","shape":[2],"data_offsets":[0]}}""", 2), "'w'", "data_offsets");

    [Fact] public void Offsets_begin_after_end() =>
        AssertRejected(Build("""{"w":{"dtype":"U8","shape":[2],"data_offsets":[4,2]}}""", 4), "'w'", "begin is after end");

    [Fact] public void Offsets_past_buffer() =>
        AssertRejected(Build("""{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}""", 3), "'w'", "holds only 3 bytes");

    [Fact] public void Byte_count_disagrees_with_shape() =>
        AssertRejected(Build("""{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}""", 8), "'w'", "needs 8");

    [Fact] public void Overlapping_tensors() =>
        AssertRejected(Build("""{"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},"b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}}""", 6),
            "'a'", "'b'", "overlap");

    [Fact] public void Metadata_value_not_a_string() =>
        AssertRejected(Build("""{"__metadata__":{"step":3}}""", 0), "__metadata__", "step");

    [Fact]
    public void Truncated_valid_file()
    {
        var path = _dir.File("t.safetensors");
        SafeTensorsFile.Write(path, new[] { new TensorBytes("w", "F32", new long[] { 16 }, new byte[64]) });
        var bytes = File.ReadAllBytes(path);
        File.WriteAllBytes(path, bytes[..^10]);
        AssertRejected(path, "'w'", "truncated");
    }

    [Fact]
    public void ReadNames_validates_too()
    {
        var path = Build("""{"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}""", 1);
        var e = Assert.Throws<InvalidDataException>(() => SafeTensorsFile.ReadNames(path));
        Assert.Contains(path, e.Message);
    }
}

using System.Buffers.Binary;
using System.Text;
using System.Text.Json;
using RlhfActors.Training.IO;
using RlhfActors.Training.Weights;

namespace RlhfActors.Tests.IO;

public sealed class SafeTensorsFileTests
{
    static TensorBytes RandomTensor(string name, string dtype, long[] shape, Random rng)
    {
        var data = new byte[SafeTensorsDTypes.ByteCount(dtype, shape)!.Value];
        rng.NextBytes(data);
        if (dtype == "BOOL") for (var i = 0; i < data.Length; i++) data[i] &= 1;
        return new TensorBytes(name, dtype, shape, data);
    }

    [Fact]
    public void Every_dtype_round_trips_bit_exact_in_order_with_metadata()
    {
        using var dir = new TempDirectory();
        var rng = new Random(3);
        var dtypes = new[] { "F32", "BF16", "F16", "I64", "I32", "U8", "BOOL", "F64", "I16", "I8" };
        // Odd sizes on purpose so offsets are not naturally aligned, plus a scalar and an empty tensor.
        var tensors = dtypes.Select((d, i) => RandomTensor($"layer.{i}.{d.ToLowerInvariant()}", d, new long[] { 3, i + 1 }, rng)).ToList();
        tensors.Add(RandomTensor("scalar", "F32", Array.Empty<long>(), rng));
        tensors.Add(RandomTensor("empty", "BF16", new long[] { 0, 4 }, rng));
        var metadata = new Dictionary<string, string> { ["format"] = "pt", ["note"] = "ünïcode ✓" };
        var path = dir.File("m.safetensors");

        SafeTensorsFile.Write(path, tensors, metadata);
        var read = SafeTensorsFile.Read(path);

        Assert.Equal(tensors.Select(t => t.Name), read.Tensors.Select(t => t.Name));
        foreach (var (expected, actual) in tensors.Zip(read.Tensors))
        {
            Assert.Equal(expected.DType, actual.DType);
            Assert.Equal(expected.Shape, actual.Shape);
            Assert.Equal(expected.Data, actual.Data);
        }
        Assert.Equal(metadata, read.Metadata);
        Assert.Equal(tensors.Select(t => t.Name), SafeTensorsFile.ReadNames(path));
        Assert.False(File.Exists(path + ".tmp"));
    }

    [Fact]
    public void Header_is_space_padded_so_data_starts_8_byte_aligned_and_offsets_are_contiguous()
    {
        using var dir = new TempDirectory();
        var path = dir.File("a.safetensors");
        // Name length chosen so the unpadded header is not a multiple of 8.
        SafeTensorsFile.Write(path, new[] { new TensorBytes("w", "U8", new long[] { 3 }, new byte[] { 1, 2, 3 }),
                                            new TensorBytes("xy", "F32", new long[] { 1 }, new byte[4]) });
        var bytes = File.ReadAllBytes(path);
        var n = (long)BinaryPrimitives.ReadUInt64LittleEndian(bytes);

        Assert.Equal(0, (8 + n) % 8);
        Assert.Equal(8 + n + 7, bytes.Length);
        var headerText = Encoding.UTF8.GetString(bytes, 8, (int)n);
        using var doc = JsonDocument.Parse(headerText);
        Assert.Equal("[0,3]", doc.RootElement.GetProperty("w").GetProperty("data_offsets").GetRawText());
        Assert.Equal("[3,7]", doc.RootElement.GetProperty("xy").GetProperty("data_offsets").GetRawText());
        // Padding is trailing spaces only, fewer than 8 of them.
        Assert.EndsWith("}", headerText.TrimEnd(' '));
        Assert.InRange(headerText.Length - headerText.TrimEnd(' ').Length, 0, 7);
    }

    [Fact]
    public void Write_rejects_duplicate_names_and_wrong_byte_counts_and_leaves_no_file()
    {
        using var dir = new TempDirectory();
        var path = dir.File("d.safetensors");
        var t = new TensorBytes("a", "F32", new long[] { 1 }, new byte[4]);

        var dup = Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, new[] { t, t }));
        Assert.Contains("duplicate", dup.Message);
        var size = Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, new[] { t with { Data = new byte[3] } }));
        Assert.Contains("'a'", size.Message);
        Assert.Throws<ArgumentException>(() => SafeTensorsFile.Write(path, new[] { t with { DType = "Q4" } }));
        Assert.Empty(Directory.EnumerateFileSystemEntries(dir.Path));
    }

    [Fact]
    public void Rewriting_replaces_the_file_whole()
    {
        using var dir = new TempDirectory();
        var path = dir.File("r.safetensors");
        SafeTensorsFile.Write(path, new[] { new TensorBytes("big", "U8", new long[] { 1000 }, new byte[1000]) });
        SafeTensorsFile.Write(path, new[] { new TensorBytes("small", "U8", new long[] { 2 }, new byte[] { 9, 8 }) });

        var read = SafeTensorsFile.Read(path);
        Assert.Equal("small", Assert.Single(read.Tensors).Name);
        Assert.Equal(new byte[] { 9, 8 }, read.Tensors[0].Data);
    }

    [Fact]
    public void Single_tensor_file_matches_the_reference_serialization_byte_for_byte()
    {
        // What Python's safetensors.torch.save_file({"test": torch.zeros(2, 2)}) writes: compact JSON, header padded
        // with spaces to a multiple of 8 bytes, then the data.
        const string header = """{"test":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}}""";
        var padded = header + new string(' ', (8 - header.Length % 8) % 8);
        var expected = new byte[8 + padded.Length + 16];
        BinaryPrimitives.WriteUInt64LittleEndian(expected, (ulong)padded.Length);
        Encoding.UTF8.GetBytes(padded).CopyTo(expected, 8);

        using var dir = new TempDirectory();
        var path = dir.File("ref.safetensors");
        SafeTensorsFile.Write(path, new[] { new TensorBytes("test", "F32", new long[] { 2, 2 }, new byte[16]) });

        Assert.Equal(expected, File.ReadAllBytes(path));
    }
}

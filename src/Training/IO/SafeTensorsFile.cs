using System.Buffers.Binary;
using System.Text.Json;
using Microsoft.Win32.SafeHandles;
using RlhfActors.Training.Weights;

namespace RlhfActors.Training.IO;

/// <summary>What a safetensors file holds: tensors in header order and the free-form string metadata.</summary>
public sealed record SafeTensorsContent(IReadOnlyList<TensorBytes> Tensors, IReadOnlyDictionary<string, string> Metadata);

/// <summary>One header entry; <see cref="Begin"/>/<see cref="End"/> are relative to the start of the data buffer.</summary>
public sealed record SafeTensorsEntry(string Name, string DType, long[] Shape, long Begin, long End);

/// <summary>A parsed, validated header. <see cref="DataStart"/> is the file offset of the data buffer.</summary>
public sealed record SafeTensorsHeader(IReadOnlyList<SafeTensorsEntry> Entries, IReadOnlyDictionary<string, string> Metadata,
    long DataStart);

/// <summary>
/// Reads and writes the safetensors format (https://github.com/huggingface/safetensors): an 8-byte little-endian
/// header length N, N bytes of UTF-8 JSON header, then the raw tensor bytes. Written by hand because no package
/// available to this project reads safetensors. Every size in the header is checked against the file before any
/// allocation, so a hostile or truncated file fails with a message naming it instead of allocating wildly.
/// </summary>
public static class SafeTensorsFile
{
    /// <summary>Headers above this are refused: real ones are kilobytes, so a bigger value means a corrupt file.</summary>
    public const long MaxHeaderBytes = 100L * 1024 * 1024;

    const string MetadataKey = "__metadata__";

    public static SafeTensorsContent Read(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        var header = ReadHeader(handle, path);
        var tensors = new List<TensorBytes>(header.Entries.Count);
        foreach (var e in header.Entries)
        {
            var length = e.End - e.Begin;
            if (length > Array.MaxLength)
                throw new InvalidDataException($"{path}: tensor '{e.Name}' is {length} bytes, more than one .NET array holds");
            var data = new byte[length];
            ReadExactly(handle, data, header.DataStart + e.Begin, path, e.Name);
            tensors.Add(new TensorBytes(e.Name, e.DType, e.Shape, data));
        }
        return new SafeTensorsContent(tensors, header.Metadata);
    }

    /// <summary>Tensor names in header order, reading only the header.</summary>
    public static IReadOnlyList<string> ReadNames(string path) => ReadHeader(path).Entries.Select(e => e.Name).ToArray();

    /// <summary>Parses and validates the header only (sizes, offsets, overlaps), without reading tensor data.</summary>
    public static SafeTensorsHeader ReadHeader(string path)
    {
        using var handle = File.OpenHandle(path, FileMode.Open, FileAccess.Read, FileShare.Read);
        return ReadHeader(handle, path);
    }

    /// <summary>Writes <paramref name="tensors"/> in the given order. The file appears under <paramref name="path"/>
    /// only once complete (written to <c>path.tmp</c>, then renamed).</summary>
    public static void Write(string path, IEnumerable<TensorBytes> tensors, IReadOnlyDictionary<string, string>? metadata = null)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        var list = tensors.ToList();
        ValidateForWrite(list, path);
        var header = EncodeHeader(list, metadata);
        AtomicFile.Write(path, stream =>
        {
            Span<byte> lengthPrefix = stackalloc byte[8];
            BinaryPrimitives.WriteUInt64LittleEndian(lengthPrefix, (ulong)header.Length);
            stream.Write(lengthPrefix);
            stream.Write(header);
            foreach (var t in list) stream.Write(t.Data);
        });
    }

    static void ValidateForWrite(List<TensorBytes> tensors, string path)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var t in tensors)
        {
            ArgumentNullException.ThrowIfNull(t, nameof(tensors));
            if (string.IsNullOrEmpty(t.Name) || t.Name == MetadataKey)
                throw new ArgumentException($"{path}: tensor name '{t.Name}' is not allowed", nameof(tensors));
            if (!seen.Add(t.Name))
                throw new ArgumentException($"{path}: duplicate tensor name '{t.Name}'", nameof(tensors));
            if (!SafeTensorsDTypes.IsSupported(t.DType))
                throw new ArgumentException($"{path}: tensor '{t.Name}' has unsupported dtype '{t.DType}'; supported: {string.Join(", ", SafeTensorsDTypes.Supported)}", nameof(tensors));
            if (t.Shape.Any(d => d < 0))
                throw new ArgumentException($"{path}: tensor '{t.Name}' has a negative dimension in shape [{string.Join(", ", t.Shape)}]", nameof(tensors));
            var expected = SafeTensorsDTypes.ByteCount(t.DType, t.Shape);
            if (expected != t.Data.Length)
                throw new ArgumentException($"{path}: tensor '{t.Name}' has {t.Data.Length} bytes but {t.DType} shape [{string.Join(", ", t.Shape)}] needs {expected?.ToString() ?? "more than 2^63"}", nameof(tensors));
        }
    }

    static byte[] EncodeHeader(List<TensorBytes> tensors, IReadOnlyDictionary<string, string>? metadata)
    {
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            if (metadata is { Count: > 0 })
            {
                json.WriteStartObject(MetadataKey);
                foreach (var (key, value) in metadata) json.WriteString(key, value);
                json.WriteEndObject();
            }
            long offset = 0;
            foreach (var t in tensors)
            {
                json.WriteStartObject(t.Name);
                json.WriteString("dtype", t.DType);
                json.WriteStartArray("shape");
                foreach (var d in t.Shape) json.WriteNumberValue(d);
                json.WriteEndArray();
                json.WriteStartArray("data_offsets");
                json.WriteNumberValue(offset);
                json.WriteNumberValue(offset + t.Data.Length);
                json.WriteEndArray();
                json.WriteEndObject();
                offset += t.Data.Length;
            }
            json.WriteEndObject();
        }
        // The reference implementation pads with spaces so the data buffer starts 8-byte aligned
        // (8-byte prefix + header length is a multiple of 8), which lets readers map tensors in place.
        var padding = (int)((8 - buffer.Length % 8) % 8);
        for (var i = 0; i < padding; i++) buffer.WriteByte((byte)' ');
        return buffer.ToArray();
    }

    static SafeTensorsHeader ReadHeader(SafeFileHandle handle, string path)
    {
        var fileLength = RandomAccess.GetLength(handle);
        if (fileLength < 8)
            throw new InvalidDataException($"{path}: file is {fileLength} bytes, shorter than the 8-byte header length of a safetensors file");
        Span<byte> prefix = stackalloc byte[8];
        ReadExactly(handle, prefix, 0, path, null);
        var headerLength = BinaryPrimitives.ReadUInt64LittleEndian(prefix);
        if (headerLength > MaxHeaderBytes)
            throw new InvalidDataException($"{path}: header length {headerLength} bytes is absurd (limit {MaxHeaderBytes}); not a safetensors file or corrupt");
        if (8 + (long)headerLength > fileLength)
            throw new InvalidDataException($"{path}: header length {headerLength} runs past the end of the file ({fileLength} bytes); file truncated or not safetensors");

        var headerBytes = new byte[headerLength];
        ReadExactly(handle, headerBytes, 8, path, null);
        var dataStart = 8 + (long)headerLength;
        var bufferLength = fileLength - dataStart;

        JsonDocument doc;
        try { doc = JsonDocument.Parse(headerBytes); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: header is not valid JSON: {e.Message}", e); }
        using (doc)
        {
            if (doc.RootElement.ValueKind != JsonValueKind.Object)
                throw new InvalidDataException($"{path}: header is a JSON {doc.RootElement.ValueKind}, expected an object");
            var metadata = new Dictionary<string, string>(StringComparer.Ordinal);
            var entries = new List<SafeTensorsEntry>();
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (var property in doc.RootElement.EnumerateObject())
            {
                if (property.Name == MetadataKey)
                {
                    ParseMetadata(property.Value, metadata, path);
                    continue;
                }
                if (!names.Add(property.Name))
                    throw new InvalidDataException($"{path}: tensor '{property.Name}' appears twice in the header");
                var entry = ParseEntry(property.Name, property.Value, path);
                if (entry.End > bufferLength)
                    throw new InvalidDataException($"{path}: tensor '{entry.Name}' data_offsets end at {entry.End} but the data buffer holds only {bufferLength} bytes; file truncated or offsets out of range");
                entries.Add(entry);
            }
            RejectOverlaps(entries, path);
            return new SafeTensorsHeader(entries, metadata, dataStart);
        }
    }

    static void ParseMetadata(JsonElement value, Dictionary<string, string> metadata, string path)
    {
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: {MetadataKey} is a JSON {value.ValueKind}, expected an object of strings");
        foreach (var item in value.EnumerateObject())
        {
            if (item.Value.ValueKind != JsonValueKind.String)
                throw new InvalidDataException($"{path}: {MetadataKey} value '{item.Name}' is a JSON {item.Value.ValueKind}, expected a string");
            metadata[item.Name] = item.Value.GetString()!;
        }
    }

    static SafeTensorsEntry ParseEntry(string name, JsonElement value, string path)
    {
        string Where(string field) => $"{path}: tensor '{name}' field '{field}'";
        if (value.ValueKind != JsonValueKind.Object)
            throw new InvalidDataException($"{path}: tensor '{name}' is a JSON {value.ValueKind}, expected an object");

        if (!value.TryGetProperty("dtype", out var dtypeElement) || dtypeElement.ValueKind != JsonValueKind.String)
            throw new InvalidDataException($"{Where("dtype")} is missing or not a string");
        var dtype = dtypeElement.GetString()!;
        if (!SafeTensorsDTypes.IsSupported(dtype))
            throw new InvalidDataException($"{Where("dtype")} is '{dtype}'; supported: {string.Join(", ", SafeTensorsDTypes.Supported)}");

        if (!value.TryGetProperty("shape", out var shapeElement) || shapeElement.ValueKind != JsonValueKind.Array)
            throw new InvalidDataException($"{Where("shape")} is missing or not an array");
        var shape = shapeElement.EnumerateArray().Select(d => NonNegativeInt(d, Where("shape"))).ToArray();

        if (!value.TryGetProperty("data_offsets", out var offsetsElement) || offsetsElement.ValueKind != JsonValueKind.Array
            || offsetsElement.GetArrayLength() != 2)
            throw new InvalidDataException($"{Where("data_offsets")} is missing or not [begin, end]");
        var begin = NonNegativeInt(offsetsElement[0], Where("data_offsets"));
        var end = NonNegativeInt(offsetsElement[1], Where("data_offsets"));
        if (begin > end)
            throw new InvalidDataException($"{Where("data_offsets")} is [{begin}, {end}]: begin is after end");

        var expected = SafeTensorsDTypes.ByteCount(dtype, shape);
        if (expected != end - begin)
            throw new InvalidDataException($"{path}: tensor '{name}' spans {end - begin} bytes but {dtype} shape [{string.Join(", ", shape)}] needs {expected?.ToString() ?? "more than 2^63"}");
        return new SafeTensorsEntry(name, dtype, shape, begin, end);
    }

    static long NonNegativeInt(JsonElement element, string where) =>
        element.ValueKind == JsonValueKind.Number && element.TryGetInt64(out var v) && v >= 0
            ? v
            : throw new InvalidDataException($"{where} holds {element.GetRawText()}, expected a non-negative integer");

    static void RejectOverlaps(List<SafeTensorsEntry> entries, string path)
    {
        // Empty tensors occupy no bytes, so they may share an offset with anything.
        SafeTensorsEntry? previous = null;
        foreach (var e in entries.Where(e => e.End > e.Begin).OrderBy(e => e.Begin))
        {
            if (previous is not null && e.Begin < previous.End)
                throw new InvalidDataException($"{path}: tensors '{previous.Name}' [{previous.Begin}, {previous.End}) and '{e.Name}' [{e.Begin}, {e.End}) overlap");
            previous = e;
        }
    }

    static void ReadExactly(SafeFileHandle handle, Span<byte> destination, long fileOffset, string path, string? tensor)
    {
        while (destination.Length > 0)
        {
            var n = RandomAccess.Read(handle, destination, fileOffset);
            if (n == 0)
                throw new InvalidDataException($"{path}: unexpected end of file{(tensor is null ? "" : $" reading tensor '{tensor}'")}; file truncated");
            destination = destination[n..];
            fileOffset += n;
        }
    }
}

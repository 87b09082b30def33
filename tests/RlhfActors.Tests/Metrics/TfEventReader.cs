using System.Buffers.Binary;
using System.Text;

namespace RlhfActors.Tests.Metrics;

/// <summary>
/// An independent reader of TensorBoard event files, written from the formats themselves (not TorchSharp's code): a
/// TFRecord stream (u64 length, masked CRC-32C of the length, the bytes, masked CRC-32C of the bytes) of
/// tensorflow.Event protobufs (1: wall_time double, 2: step int64, 3: file_version string, 5: summary { 1: value
/// { 1: tag string, 2: simple_value float } }). Every CRC is checked, as TensorBoard's reader checks them.
/// </summary>
public static class TfEventReader
{
    public sealed record Scalar(string Tag, long Step, float Value, double WallTime);

    public sealed record EventFile(string FileVersion, IReadOnlyList<Scalar> Scalars);

    public static EventFile Read(string path)
    {
        var bytes = File.ReadAllBytes(path);
        var scalars = new List<Scalar>();
        string version = "";
        int at = 0;
        while (at < bytes.Length)
        {
            if (bytes.Length - at < 12) throw new InvalidDataException($"{path}: truncated record header at {at}");
            var lengthBytes = bytes.AsSpan(at, 8);
            var length = checked((int)BinaryPrimitives.ReadUInt64LittleEndian(lengthBytes));
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 8, 4)) != MaskedCrc(lengthBytes))
                throw new InvalidDataException($"{path}: bad length CRC at {at}");
            var data = bytes.AsSpan(at + 12, length);
            if (BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(at + 12 + length, 4)) != MaskedCrc(data))
                throw new InvalidDataException($"{path}: bad data CRC at {at}");
            at += 12 + length + 4;
            ParseEvent(data, scalars, ref version);
        }
        return new EventFile(version, scalars);
    }

    static void ParseEvent(ReadOnlySpan<byte> data, List<Scalar> scalars, ref string version)
    {
        double wallTime = 0;
        long step = 0;
        var values = new List<(string Tag, float Value)>();
        int at = 0;
        while (at < data.Length)
        {
            var (field, wire) = Key(data, ref at);
            switch (field, wire)
            {
                case (1, 1): wallTime = BinaryPrimitives.ReadDoubleLittleEndian(data.Slice(at, 8)); at += 8; break;
                case (2, 0): step = (long)Varint(data, ref at); break;
                case (3, 2): version = Encoding.UTF8.GetString(Bytes(data, ref at)); break;
                case (5, 2): ParseSummary(Bytes(data, ref at), values); break;
                default: Skip(data, ref at, wire); break;
            }
        }
        scalars.AddRange(values.Select(v => new Scalar(v.Tag, step, v.Value, wallTime)));
    }

    static void ParseSummary(ReadOnlySpan<byte> data, List<(string, float)> values)
    {
        int at = 0;
        while (at < data.Length)
        {
            var (field, wire) = Key(data, ref at);
            if (field != 1 || wire != 2) { Skip(data, ref at, wire); continue; }
            var value = Bytes(data, ref at);
            string tag = "";
            float simple = float.NaN;
            int v = 0;
            while (v < value.Length)
            {
                var (f, w) = Key(value, ref v);
                if (f == 1 && w == 2) tag = Encoding.UTF8.GetString(Bytes(value, ref v));
                else if (f == 2 && w == 5) { simple = BinaryPrimitives.ReadSingleLittleEndian(value.Slice(v, 4)); v += 4; }
                else Skip(value, ref v, w);
            }
            values.Add((tag, simple));
        }
    }

    static (int Field, int Wire) Key(ReadOnlySpan<byte> data, ref int at)
    {
        var key = Varint(data, ref at);
        return ((int)(key >> 3), (int)(key & 7));
    }

    static ulong Varint(ReadOnlySpan<byte> data, ref int at)
    {
        ulong result = 0;
        for (int shift = 0; ; shift += 7)
        {
            var b = data[at++];
            result |= (ulong)(b & 0x7f) << shift;
            if (b < 0x80) return result;
        }
    }

    static ReadOnlySpan<byte> Bytes(ReadOnlySpan<byte> data, ref int at)
    {
        var length = (int)Varint(data, ref at);
        var slice = data.Slice(at, length);
        at += length;
        return slice;
    }

    static void Skip(ReadOnlySpan<byte> data, ref int at, int wire)
    {
        switch (wire)
        {
            case 0: Varint(data, ref at); break;
            case 1: at += 8; break;
            case 2: Bytes(data, ref at); break;
            case 5: at += 4; break;
            default: throw new InvalidDataException($"protobuf wire type {wire} at {at}");
        }
    }

    /// <summary>TFRecord's masked CRC-32C (Castagnoli): rotate right 15, add 0xa282ead8.</summary>
    static uint MaskedCrc(ReadOnlySpan<byte> data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (var b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++) crc = (crc & 1) != 0 ? (crc >> 1) ^ 0x82F63B78u : crc >> 1;
        }
        crc ^= 0xFFFFFFFF;
        return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
    }
}

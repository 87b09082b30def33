using System.Buffers.Binary;
using SkiaSharp;

namespace RlhfActors.Tests.Metrics;

/// <summary>What a test can say about a PNG without comparing its bytes: its header, and how many pixels of a colour
/// it holds once decoded.</summary>
public sealed class PngImage : IDisposable
{
    static readonly byte[] Signature = [0x89, (byte)'P', (byte)'N', (byte)'G', 0x0D, 0x0A, 0x1A, 0x0A];

    readonly SKBitmap _bitmap;

    public int HeaderWidth { get; }
    public int HeaderHeight { get; }
    public int Width => _bitmap.Width;
    public int Height => _bitmap.Height;

    /// <summary>Checks the signature and that the first chunk is IHDR (the PNG rules), then decodes.</summary>
    public PngImage(string path)
    {
        var bytes = File.ReadAllBytes(path);
        Assert.True(bytes.AsSpan(0, 8).SequenceEqual(Signature), $"{path}: no PNG signature");
        Assert.Equal("IHDR", System.Text.Encoding.ASCII.GetString(bytes, 12, 4));
        HeaderWidth = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(16));
        HeaderHeight = BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(20));
        _bitmap = SKBitmap.Decode(bytes) ?? throw new Xunit.Sdk.XunitException($"{path}: SkiaSharp cannot decode it");
    }

    /// <summary>Pixels within <paramref name="tolerance"/> per channel of <paramref name="hex"/> (#rrggbb), in rows
    /// [<paramref name="top"/>, <paramref name="bottom"/>); anti-aliased edges are off-colour, a line's core is not.</summary>
    public int Count(string hex, int tolerance = 12, int top = 0, int? bottom = null)
    {
        var colour = SKColor.Parse(hex);
        int count = 0;
        for (int y = top; y < (bottom ?? Height); y++)
            for (int x = 0; x < Width; x++)
            {
                var p = _bitmap.GetPixel(x, y);
                if (Math.Abs(p.Red - colour.Red) <= tolerance && Math.Abs(p.Green - colour.Green) <= tolerance && Math.Abs(p.Blue - colour.Blue) <= tolerance)
                    count++;
            }
        return count;
    }

    /// <summary>Pixels darker than mid-grey in rows [<paramref name="top"/>, <paramref name="bottom"/>): text, ticks.</summary>
    public int Dark(int top, int bottom)
    {
        int count = 0;
        for (int y = top; y < bottom; y++)
            for (int x = 0; x < Width; x++)
                if (_bitmap.GetPixel(x, y) is var p && p.Red + p.Green + p.Blue < 3 * 100) count++;
        return count;
    }

    public void Dispose() => _bitmap.Dispose();
}

using TorchSharp;
using static TorchSharp.torch;

namespace RlhfActors.Training.Peft;

/// <summary>
/// A frozen weight stored as QLoRA's 4-bit NormalFloat (Dettmers et al. 2023): the row-major flattened weight is cut
/// into blocks of <see cref="BlockSize"/> values, each block keeps its absmax and every value keeps the index of the
/// nearest <see cref="Nf4CodeBook"/> entry to value / absmax, two 4-bit indices per byte (first value in the high
/// nibble, as bitsandbytes packs them). With double quantisation the absmax vector itself is stored in 8 bits, which
/// takes the scale overhead from 32/64 = 0.5 to about 8/64 + 32/(64·256) ≈ 0.127 bits per weight.
/// <para>The object owns its tensors (detached from every dispose scope); <see cref="Dispose"/> frees them.
/// <see cref="Dequantize"/> runs in every forward pass of a QLoRA layer, so it is pure device-side tensor work: no
/// .item(), no host copies, and the decode table is built once per object.</para>
/// </summary>
public sealed class Nf4Tensor : IDisposable
{
    /// <summary>Absmax values per second-level (fp32) scale under double quantisation; bitsandbytes uses 256 too.</summary>
    public const int DefaultScaleBlockSize = 256;

    readonly Tensor packed;          // uint8 [numel / 2]
    readonly Tensor? absmax;         // fp32 [blocks], when !DoubleQuant
    readonly Tensor? absmaxQ;        // int8 [scaleBlocks · scaleBlockSize] (padded), when DoubleQuant
    readonly Tensor? absmaxScale;    // fp32 [scaleBlocks], when DoubleQuant
    readonly Tensor? absmaxOffset;   // fp32 scalar (0-dim, on device: reading it on the host would need .item())
    readonly Tensor pairTable;       // fp32 [256, 2]: byte b → (code[b >> 4], code[b & 15]); 2 KiB, not counted as storage
    readonly long blocks;
    bool disposed;

    public long[] Shape { get; }
    public int BlockSize { get; }
    public bool DoubleQuant { get; }
    public int ScaleBlockSize { get; }
    public Device Device => packed.device;
    public long NumberOfElements { get; }

    /// <summary>The packed codes, uint8 [numel / 2], high nibble first. Owned by this object: read, never dispose.</summary>
    public Tensor PackedCodes => packed;

    /// <summary>Bytes of what is held for the weight: packed codes plus the scales exactly as stored (int8 scales
    /// including the padding of the last scale block, fp32 second-level scales and the fp32 offset; or fp32 absmax
    /// without double quantisation). The 2 KiB decode table is a per-object constant and is not counted.</summary>
    public long StorageBytes =>
        packed.NumberOfElements
        + (DoubleQuant ? absmaxQ!.NumberOfElements + 4 * absmaxScale!.NumberOfElements + 4 : 4 * absmax!.NumberOfElements);

    Nf4Tensor(long[] shape, int blockSize, int scaleBlockSize, Tensor packed, Tensor? absmax,
        Tensor? absmaxQ, Tensor? absmaxScale, Tensor? absmaxOffset)
    {
        Shape = shape;
        BlockSize = blockSize;
        ScaleBlockSize = scaleBlockSize;
        DoubleQuant = absmaxQ is not null;
        NumberOfElements = shape.Aggregate(1L, (a, d) => a * d);
        blocks = NumberOfElements / blockSize;
        this.packed = packed.DetachFromDisposeScope();
        this.absmax = absmax?.DetachFromDisposeScope();
        this.absmaxQ = absmaxQ?.DetachFromDisposeScope();
        this.absmaxScale = absmaxScale?.DetachFromDisposeScope();
        this.absmaxOffset = absmaxOffset?.DetachFromDisposeScope();
        pairTable = BuildPairTable(packed.device).DetachFromDisposeScope();
    }

    /// <summary>
    /// Quantises <paramref name="weight"/> (any floating dtype and device; left untouched). Its element count must
    /// be a multiple of <paramref name="blockSize"/>, which must be even so that blocks never share a byte.
    /// </summary>
    public static Nf4Tensor Quantize(Tensor weight, int blockSize = 64, bool doubleQuant = true, int scaleBlockSize = DefaultScaleBlockSize)
    {
        ArgumentNullException.ThrowIfNull(weight);
        var shape = weight.shape.ToArray();
        var shapeText = $"[{string.Join(", ", shape)}]";
        if (blockSize <= 0 || blockSize % 2 != 0)
            throw new ArgumentException($"blockSize must be a positive even number (got {blockSize})", nameof(blockSize));
        if (doubleQuant && scaleBlockSize <= 0)
            throw new ArgumentException($"scaleBlockSize must be positive (got {scaleBlockSize})", nameof(scaleBlockSize));
        if (!weight.is_floating_point())
            throw new ArgumentException($"weight of shape {shapeText} has dtype {weight.dtype}; NF4 quantises floating-point weights", nameof(weight));
        long numel = weight.NumberOfElements;
        if (numel == 0 || numel % blockSize != 0)
            throw new ArgumentException($"weight of shape {shapeText} has {numel} elements, not a positive multiple of blockSize {blockSize}", nameof(weight));

        using var scope = NewDisposeScope();
        using var _ = no_grad();
        var device = weight.device;
        var w = weight.detach().to(ScalarType.Float32).contiguous().view(-1, blockSize);
        var amax = w.abs().amax(new long[] { 1 });                                   // fp32 [blocks]
        // An all-zero block divides by 1 instead of 0: its values normalise to 0, the exact zero code.
        var safe = where(amax > 0, amax, ones_like(amax));
        var normed = w / safe.unsqueeze(1);
        var midpoints = tensor(Nf4CodeBook.Midpoints.ToArray(), ScalarType.Float32, device);
        var codes = bucketize(normed, midpoints).view(-1, 2);                         // int64 in [0, 15]
        var packedCodes = (codes[.., 0] * 16 + codes[.., 1]).to(ScalarType.Byte);    // first element → high nibble

        if (!doubleQuant)
            return new Nf4Tensor(shape, blockSize, scaleBlockSize, packedCodes, amax, null, null, null);

        // Double quantisation. The absmax values are all positive and cluster around their mean, so subtracting the
        // mean (bitsandbytes does the same) and storing the residual as symmetric int8 per scaleBlockSize block uses
        // all 255 levels on the spread that matters. Symmetric int8 rather than uint8 + zero point: the residuals are
        // centred already, symmetric needs no per-block zero point, and decoding is one multiply-add.
        long scaleBlocks = (amax.NumberOfElements + scaleBlockSize - 1) / scaleBlockSize;
        var offset = amax.mean();
        var centred = nn.functional.pad(amax - offset, new long[] { 0, scaleBlocks * scaleBlockSize - amax.NumberOfElements })
            .view(scaleBlocks, scaleBlockSize);
        var scale = centred.abs().amax(new long[] { 1 }) / 127f;                      // fp32 [scaleBlocks]
        var safeScale = where(scale > 0, scale, ones_like(scale));
        var q = (centred / safeScale.unsqueeze(1)).round().clamp(-127, 127).to(ScalarType.Int8).view(-1);
        return new Nf4Tensor(shape, blockSize, scaleBlockSize, packedCodes, null, q, scale, offset);
    }

    /// <summary>
    /// The weight in <paramref name="dtype"/>, shaped <see cref="Shape"/>, as a new tensor owned by the caller's
    /// dispose scope. Decoding is done in fp32 and cast once, so every dtype rounds the same fp32 value.
    /// </summary>
    public Tensor Dequantize(ScalarType dtype)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var scope = NewDisposeScope();
        using var _ = no_grad();
        // One lookup per byte in the 256 × 2 table (built from the code book by >> 4 and & 15) decodes both nibbles
        // at once: half the index work of unpacking nibbles one by one, with the same result.
        var values = pairTable.index_select(0, packed.to(ScalarType.Int32)).view(blocks, BlockSize);
        var result = (values * BlockAbsmax().unsqueeze(1)).view(Shape);
        if (dtype != ScalarType.Float32) result = result.to(dtype);
        return result.MoveToOuterDisposeScope();
    }

    /// <summary>A copy on <paramref name="device"/>; this object is left as it is.</summary>
    public Nf4Tensor To(Device device)
    {
        ObjectDisposedException.ThrowIf(disposed, this);
        using var scope = NewDisposeScope();
        // Copy even on the same device: the two objects must never hold (and dispose) the same tensor.
        Tensor Move(Tensor t) => t.device_type == device.type && t.device_index == device.index ? t.clone() : t.to(device);
        return new Nf4Tensor(Shape, BlockSize, ScaleBlockSize, Move(packed), absmax is null ? null : Move(absmax),
            absmaxQ is null ? null : Move(absmaxQ), absmaxScale is null ? null : Move(absmaxScale),
            absmaxOffset is null ? null : Move(absmaxOffset));
    }

    /// <summary>fp32 [blocks]: held as is, or rebuilt from the 8-bit scales (a few thousand values per call).</summary>
    Tensor BlockAbsmax()
    {
        if (!DoubleQuant) return absmax!;
        var q = absmaxQ!.to(ScalarType.Float32).view(-1, ScaleBlockSize) * absmaxScale!.unsqueeze(1);
        return q.view(-1).narrow(0, 0, blocks) + absmaxOffset!;
    }

    static Tensor BuildPairTable(Device device)
    {
        using var scope = NewDisposeScope();
        var code = tensor(Nf4CodeBook.Values.ToArray(), ScalarType.Float32, device);
        var bytes = arange(256, ScalarType.Int64, device);
        var high = bytes.bitwise_right_shift(tensor(4L, device: device));
        var low = bytes.bitwise_and(tensor(15L, device: device));
        return stack(new[] { code.index_select(0, high), code.index_select(0, low) }, 1).MoveToOuterDisposeScope();
    }

    public void Dispose()
    {
        if (disposed) return;
        disposed = true;
        packed.Dispose();
        absmax?.Dispose();
        absmaxQ?.Dispose();
        absmaxScale?.Dispose();
        absmaxOffset?.Dispose();
        pairTable.Dispose();
    }
}

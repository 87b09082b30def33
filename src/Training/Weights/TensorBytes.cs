namespace RlhfActors.Training.Weights;

/// <summary>A named tensor as plain bytes (little-endian, row-major), free of TorchSharp so it can cross an
/// actor boundary. <see cref="DType"/> uses safetensors' names: F32, BF16, F16, I64, I32, U8.</summary>
public sealed record TensorBytes(string Name, string DType, long[] Shape, byte[] Data);

using TorchSharp;
using RlhfActors.Training.Model;
using RlhfActors.Training.Weights;
using RlhfActors.Training.IO;
using static TorchSharp.torch;

namespace RlhfActors.Training.Peft;

/// <summary>One adapter to serve: its LoRA shape and its tensors (our parameter names, …q_proj.lora_A.weight).</summary>
public sealed record NamedAdapter(string Name, LoraSettings Settings, IReadOnlyList<TensorBytes> Tensors)
{
    /// <summary>An adapter described by its tensors alone plus α: r is the rows of lora_A, the targets are the
    /// modules the tensors name (what a published adapter version carries).</summary>
    public static NamedAdapter FromTensors(string name, double alpha, IReadOnlyList<TensorBytes> tensors)
    {
        var a = tensors.FirstOrDefault(t => t.Name.EndsWith(".lora_A.weight", StringComparison.Ordinal))
                ?? throw new ArgumentException($"adapter '{name}' has no lora_A tensor");
        var modules = tensors.Select(t => t.Name.Split('.')).Where(p => p.Length >= 3).Select(p => p[^3]).Distinct().ToArray();
        return new NamedAdapter(name, new LoraSettings { Rank = (int)a.Shape[0], Alpha = alpha, TargetModules = modules }, tensors);
    }
}

/// <summary>
/// Many LoRA adapters on one frozen base, chosen per batch row (multi-LoRA serving, as vLLM and S-LoRA do): every
/// targeted layer holds its adapters stacked — A [N+1, R, in], B [N+1, out, R] with R the largest rank, smaller ranks
/// zero-padded (zero rows/columns add nothing) and slot 0 all zeros for rows that ask for the bare base — and adds
/// (α/r)·B_row A_row x for each row with two batched products. The base weights are shared by every row, so N
/// adapters cost N small tensors, not N models.
/// </summary>
public sealed class AdapterBank : IDisposable
{
    readonly DecoderModel model;
    readonly AdapterRouting routing = new();
    readonly Dictionary<string, int> slots;

    AdapterBank(DecoderModel model, Dictionary<string, int> slots) { this.model = model; this.slots = slots; }

    public IReadOnlyCollection<string> Adapters => slots.Keys;

    /// <summary>Installs <paramref name="adapters"/> into <paramref name="model"/> (replacing any bank it had). A LoRA
    /// branch the model carries itself is switched off while a batch is routed through the bank.</summary>
    public static AdapterBank Install(DecoderModel model, IReadOnlyList<NamedAdapter> adapters)
    {
        var duplicate = adapters.GroupBy(a => a.Name).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new ArgumentException($"adapter '{duplicate.Key}' is given twice");
        var byName = adapters.Select(a => (a, Tensors: a.Tensors.ToDictionary(t => t.Name))).ToArray();
        int maxRank = adapters.Count == 0 ? 1 : adapters.Max(a => a.Settings.Rank);
        var bank = new AdapterBank(model, adapters.Select((a, i) => (a.Name, i + 1)).ToDictionary(x => x.Name, x => x.Item2));
        var device = model.parameters().First().device;
        foreach (var (name, layer) in model.Linears())
        {
            using var scope = NewDisposeScope();
            var a = zeros(new long[] { adapters.Count + 1, maxRank, layer.InFeatures });
            var b = zeros(new long[] { adapters.Count + 1, layer.OutFeatures, maxRank });
            var scales = zeros(adapters.Count + 1);
            bool any = false;
            for (int i = 0; i < byName.Length; i++)
            {
                var (adapter, tensors) = byName[i];
                var hasA = tensors.TryGetValue(name + ".lora_A.weight", out var aBytes);
                var hasB = tensors.TryGetValue(name + ".lora_B.weight", out var bBytes);
                if (hasA != hasB) throw new ArgumentException($"adapter '{adapter.Name}': {name} has only one of lora_A / lora_B");
                if (!hasA) continue;
                int r = adapter.Settings.Rank;
                var at = TorchTensors.ToTorch(aBytes!).to(ScalarType.Float32);
                var bt = TorchTensors.ToTorch(bBytes!).to(ScalarType.Float32);
                if (!at.shape.SequenceEqual(new long[] { r, layer.InFeatures }) || !bt.shape.SequenceEqual(new long[] { layer.OutFeatures, r }))
                    throw new ArgumentException($"adapter '{adapter.Name}': {name} lora_A [{string.Join(", ", at.shape)}] / lora_B [{string.Join(", ", bt.shape)}] do not fit rank {r} on a [{layer.OutFeatures}, {layer.InFeatures}] layer");
                a[i + 1, TensorIndex.Slice(0, r)] = at;
                b[i + 1, TensorIndex.Colon, TensorIndex.Slice(0, r)] = bt;
                scales[i + 1] = adapter.Settings.Scale;
                any = true;
            }
            layer.SetBank(any
                ? new AdapterBankSlot(a.to(model.ComputeType).to(device).DetachFromDisposeScope(), b.to(model.ComputeType).to(device).DetachFromDisposeScope(),
                    scales.to(model.ComputeType).to(device).DetachFromDisposeScope(), bank.routing)
                : null);
        }
        return bank;
    }

    /// <summary>The slot of <paramref name="adapter"/>; null names the bare base (slot 0).</summary>
    public int SlotOf(string? adapter) => adapter is null ? 0
        : slots.TryGetValue(adapter, out var slot) ? slot
        : throw new ArgumentException($"adapter '{adapter}' is not loaded (loaded: {string.Join(", ", slots.Keys)})");

    /// <summary>Until disposed, every forward pass of the model routes batch row i through <paramref name="rowAdapters"/>[i]
    /// (null = the bare base). Generation keeps its batch rows fixed, so one route covers a whole Generate call.</summary>
    public IDisposable Route(IReadOnlyList<string?> rowAdapters)
    {
        if (routing.RowSlots is not null) throw new InvalidOperationException("the adapter bank is already routing a batch");
        var device = model.parameters().First().device;
        routing.RowSlots = tensor(rowAdapters.Select(a => (long)SlotOf(a)).ToArray(), device: device).DetachFromDisposeScope();
        bool ownBranches = model.LoraSwitch.Enabled;
        model.LoraSwitch.Enabled = false;
        return new RouteScope(routing, model.LoraSwitch, ownBranches);
    }

    public void Dispose()
    {
        foreach (var (_, layer) in model.Linears()) layer.SetBank(null);
        routing.RowSlots?.Dispose();
        routing.RowSlots = null;
    }

    sealed class RouteScope(AdapterRouting routing, LoraSwitch ownBranches, bool wasEnabled) : IDisposable
    {
        public void Dispose()
        {
            ownBranches.Enabled = wasEnabled;
            routing.RowSlots?.Dispose();
            routing.RowSlots = null;
        }
    }
}

/// <summary>Which bank slot each batch row uses, shared by all layers of one model.</summary>
public sealed class AdapterRouting
{
    public Tensor? RowSlots { get; set; }
}

/// <summary>One layer's stacked adapters.</summary>
public sealed class AdapterBankSlot(Tensor a, Tensor b, Tensor scales, AdapterRouting routing) : IDisposable
{
    /// <summary>Σ-free per-row delta [B, T, out] for input [B, T, in], or null when no batch is being routed.</summary>
    public Tensor? RowDelta(Tensor input)
    {
        if (routing.RowSlots is not { } rows) return null;
        if (rows.shape[0] != input.shape[0])
            throw new InvalidOperationException($"the adapter route names {rows.shape[0]} rows, the batch has {input.shape[0]}");
        var aRows = a.index_select(0, rows).to(input.dtype);                 // [B, R, in]
        var bRows = b.index_select(0, rows).to(input.dtype);                 // [B, out, R]
        var down = input.matmul(aRows.transpose(1, 2));                      // [B, T, R]
        var scale = scales.index_select(0, rows).to(input.dtype).view(-1, 1, 1);
        return down.matmul(bRows.transpose(1, 2)) * scale;                   // [B, T, out]
    }

    public void Dispose()
    {
        a.Dispose();
        b.Dispose();
        scales.Dispose();
    }
}

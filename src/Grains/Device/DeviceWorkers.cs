using System.Collections.Concurrent;

namespace RlhfActors.Grains.Device;

/// <summary>
/// The silo's device workers, one per device name, created on first use. Registered as a DI singleton, so every
/// grain of a silo that asks for "cpu" shares one thread, and the container disposes the workers at shutdown.
/// </summary>
public sealed class DeviceWorkers : IDisposable
{
    public const string Cpu = "cpu";

    readonly ConcurrentDictionary<string, Lazy<DeviceWorker>> _workers = new(StringComparer.Ordinal);
    volatile bool _disposed;

    public DeviceWorker Get(string device = Cpu)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (string.IsNullOrWhiteSpace(device)) throw new ArgumentException("device name is empty", nameof(device));
        return _workers.GetOrAdd(device, d => new Lazy<DeviceWorker>(() => new DeviceWorker(d))).Value;
    }

    public void Dispose()
    {
        _disposed = true;
        foreach (var worker in _workers.Values)
            if (worker.IsValueCreated) worker.Value.Dispose();
    }
}

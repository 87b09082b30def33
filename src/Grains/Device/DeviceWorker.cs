using System.Collections.Concurrent;
using TorchSharp;

namespace RlhfActors.Grains.Device;

/// <summary>
/// One dedicated thread and job queue for one device. TorchSharp modules are not thread-safe, and dispose scopes
/// and grad mode are thread-local, so every piece of torch work on a model runs here, one job after another, and
/// the grain awaits the returned task. Orleans scheduler threads therefore never block on a training step.
/// </summary>
public sealed class DeviceWorker : IDisposable
{
    readonly BlockingCollection<Action> _jobs = new();
    readonly Thread _thread;

    readonly int _threads;

    /// <param name="name">Worker name: a torch device ("cpu", "cuda:0"), or a CPU worker "cpu#N".</param>
    /// <param name="threads">libtorch intra-op threads for this worker's thread; 0 keeps the default.</param>
    public DeviceWorker(string name, int threads = 0)
    {
        Name = name;
        Device = DeviceWorkers.TorchDevice(name);
        _threads = threads;
        // A plain thread rather than a pool thread: jobs run for seconds, and thread-local torch state must stay put.
        _thread = new Thread(Loop) { Name = $"rlhf-device-{name}", IsBackground = true };
        _thread.Start();
    }

    /// <summary>The TorchSharp device name this worker serves: "cpu", "cuda:0", …</summary>
    public string Device { get; }

    /// <summary>The worker's own name: the device, or "cpu#N" for the N-th extra CPU worker.</summary>
    public string Name { get; }

    /// <summary>Managed id of the worker thread (for tests and diagnostics).</summary>
    public int ThreadId => _thread.ManagedThreadId;

    /// <summary>
    /// Queues <paramref name="work"/> and completes the task with its result or exception once it ran. The job runs
    /// inside a fresh dispose scope: every tensor it creates is freed when it returns, so the result must be plain
    /// .NET data (or tensors explicitly moved out of the scope by the job). The task's continuations run on the
    /// thread pool (or the awaiting grain's scheduler), never on the device thread.
    /// </summary>
    public Task<T> RunAsync<T>(Func<T> work)
    {
        ArgumentNullException.ThrowIfNull(work);
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        void Job()
        {
            try
            {
                T result;
                using (torch.NewDisposeScope())
                    result = work();
                // Complete only after the scope has freed the job's tensors: the awaiter may run at once elsewhere.
                done.TrySetResult(result);
            }
            catch (Exception e)
            {
                done.TrySetException(e);
            }
        }
        try
        {
            _jobs.Add(Job);
        }
        catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
        {
            return Task.FromException<T>(new ObjectDisposedException(nameof(DeviceWorker), $"device worker '{Device}' has shut down"));
        }
        return done.Task;
    }

    /// <summary>Runs <paramref name="work"/> for its side effects.</summary>
    public Task RunAsync(Action work) => RunAsync(() => { work(); return true; });

    void Loop()
    {
        // Per thread: libtorch's OpenMP team size and MKL's thread count are thread-local settings.
        if (_threads > 0) torch.set_num_threads(_threads);
        foreach (var job in _jobs.GetConsumingEnumerable())
            job();
    }

    /// <summary>Lets queued jobs finish, then ends the thread. Jobs queued afterwards fail with <see cref="ObjectDisposedException"/>.</summary>
    public void Dispose()
    {
        if (_jobs.IsAddingCompleted) return;
        _jobs.CompleteAdding();
        if (Thread.CurrentThread != _thread) _thread.Join();
        _jobs.Dispose();
    }
}

using RlhfActors.Grains.Device;
using TorchSharp;

namespace RlhfActors.Tests.Grains;

public sealed class DeviceWorkerTests
{
    [Fact]
    public async Task Every_job_runs_on_the_same_dedicated_non_pool_thread()
    {
        using var worker = new DeviceWorker("cpu");
        var seen = new List<(int Id, bool Pool, string? Name)>();
        for (var i = 0; i < 5; i++)
            seen.Add(await worker.RunAsync(() => (Environment.CurrentManagedThreadId, Thread.CurrentThread.IsThreadPoolThread, Thread.CurrentThread.Name)));

        Assert.All(seen, s => Assert.Equal(worker.ThreadId, s.Id));
        Assert.All(seen, s => Assert.False(s.Pool));
        Assert.All(seen, s => Assert.Equal("rlhf-device-cpu", s.Name));
        Assert.NotEqual(Environment.CurrentManagedThreadId, worker.ThreadId);
    }

    [Fact]
    public async Task Jobs_run_in_the_order_they_were_queued_and_one_at_a_time()
    {
        using var worker = new DeviceWorker("cpu");
        var order = new List<int>();
        var running = 0;
        var overlapped = false;
        var tasks = Enumerable.Range(0, 200).Select(i => worker.RunAsync(() =>
        {
            if (Interlocked.Increment(ref running) > 1) overlapped = true;
            order.Add(i);
            Thread.SpinWait(100);
            Interlocked.Decrement(ref running);
        })).ToList();
        await Task.WhenAll(tasks);

        Assert.False(overlapped);
        Assert.Equal(Enumerable.Range(0, 200), order);
    }

    [Fact]
    public async Task An_exception_in_a_job_reaches_the_awaiter_and_the_worker_keeps_going()
    {
        using var worker = new DeviceWorker("cpu");
        var error = await Assert.ThrowsAsync<InvalidDataException>(() => worker.RunAsync<int>(() => throw new InvalidDataException("bad shard 7")));
        Assert.Equal("bad shard 7", error.Message);
        Assert.Equal(42, await worker.RunAsync(() => 42));
    }

    [Fact]
    public async Task Continuations_do_not_run_on_the_device_thread()
    {
        using var worker = new DeviceWorker("cpu");
        await worker.RunAsync(() => { });
        Assert.NotEqual(worker.ThreadId, Environment.CurrentManagedThreadId);
    }

    [Fact]
    public async Task Tensors_made_in_a_job_are_freed_when_it_returns()
    {
        using var worker = new DeviceWorker("cpu");
        // Leaking the handle out of the job is exactly what callers must not do; here it shows the scope closed.
        var (tensor, sum) = await worker.RunAsync(() =>
        {
            var t = torch.ones(4, 4);
            return (t, t.sum().item<float>());
        });
        Assert.Equal(16f, sum);
        Assert.True(tensor.IsInvalid);
    }

    [Fact]
    public async Task Disposing_finishes_queued_jobs_then_refuses_new_ones()
    {
        var worker = new DeviceWorker("cpu");
        var gate = new ManualResetEventSlim();
        var first = worker.RunAsync(() => gate.Wait(TimeSpan.FromSeconds(10)));
        var second = worker.RunAsync(() => 2);
        gate.Set();
        worker.Dispose();

        Assert.True(await first);
        Assert.Equal(2, await second);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => worker.RunAsync(() => 3));
    }

    [Fact]
    public void The_registry_hands_out_one_worker_per_device()
    {
        using var workers = new DeviceWorkers();
        var cpu = workers.Get("cpu");
        Assert.Same(cpu, workers.Get(DeviceWorkers.Cpu));
        Assert.NotSame(cpu, workers.Get("cuda:0"));
        Assert.Equal("cuda:0", workers.Get("cuda:0").Device);
    }
}

using System.Collections.Concurrent;
using System.Runtime.InteropServices;

namespace Latchkey.Accounts;

/// <summary>
/// Bounded concurrency for Argon2id. A hash takes tens of milliseconds of one core and 19 MiB: run as many as requests
/// arrive and a login flood takes every thread and all memory, so token refreshes and bearer checks queue behind it.
/// At most <see cref="PasswordHashingOptions.MaxConcurrency"/> hashes run at once; a few more logins may wait their
/// turn (<see cref="PasswordHashingOptions.MaxQueue"/>, each for at most <see cref="PasswordHashingOptions.MaxWait"/>);
/// the rest are refused at once with 503 and <c>Retry-After</c>, which costs nothing.
/// <para>
/// The hashes themselves run on this gate's own threads (<see cref="RunAsync{T}"/>), one per slot, at a lower CPU
/// priority (nice <see cref="HashingNice"/> on Linux). On the thread pool, a 36 ms hash holds a pool thread, and on a
/// small machine the pool has as many threads as cores: every other request then waits for a hash to end or for the
/// pool to grow. Here a bearer check or refresh that arrives while a hash runs takes the core from it at once, and the
/// hash goes on when the core is free. Under a full load of other requests, logins slow down first.
/// </para>
/// </summary>
public sealed class PasswordHashingGate
{
    /// <summary>The nice value of the hashing threads: below request handling (0), above idle work (19).</summary>
    public const int HashingNice = 10;

    private readonly BlockingCollection<Action> _work = new();
    private readonly Lazy<Thread[]> _threads;

    private readonly SemaphoreSlim _slots;
    private readonly int _maxQueue;
    private readonly TimeSpan _maxWait;
    private int _waiting;

    public PasswordHashingGate(PasswordHashingOptions options)
    {
        MaxConcurrency = options.MaxConcurrency > 0 ? options.MaxConcurrency : Environment.ProcessorCount;
        _slots = new SemaphoreSlim(MaxConcurrency, MaxConcurrency);
        _maxQueue = options.MaxQueue >= 0 ? options.MaxQueue : 4 * MaxConcurrency;
        _maxWait = options.MaxWait;
        _threads = new Lazy<Thread[]>(StartThreads);
    }

    public int MaxConcurrency { get; }

    /// <summary>How long a refused login is told to wait: about the time the queue takes to drain.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(1);

    /// <summary>Waits for a hashing slot; false when the queue is full or the wait too long (the caller answers 503).</summary>
    public async Task<bool> TryEnterAsync(CancellationToken cancellationToken)
    {
        if (_slots.Wait(0))
            return true;
        if (Interlocked.Increment(ref _waiting) > _maxQueue)
        {
            Interlocked.Decrement(ref _waiting);
            return false;
        }

        try
        {
            return await _slots.WaitAsync(_maxWait, cancellationToken);
        }
        finally
        {
            Interlocked.Decrement(ref _waiting);
        }
    }

    public void Exit() => _slots.Release();

    /// <summary>Runs <paramref name="hash"/> on a hashing thread; call it between <see cref="TryEnterAsync"/> and <see cref="Exit"/>.</summary>
    public Task<T> RunAsync<T>(Func<T> hash)
    {
        _ = _threads.Value;
        var result = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                result.SetResult(hash());
            }
            catch (Exception e)
            {
                result.SetException(e);
            }
        });
        return result.Task;
    }

    private Thread[] StartThreads()
    {
        var threads = new Thread[MaxConcurrency];
        for (int i = 0; i < threads.Length; i++)
        {
            threads[i] = new Thread(HashingLoop) { IsBackground = true, Name = "Password hashing" };
            threads[i].Start();
        }

        return threads;
    }

    private void HashingLoop()
    {
        LowerThisThreadsPriority();
        foreach (Action work in _work.GetConsumingEnumerable())
            work();
    }

    /// <summary>
    /// .NET's Thread.Priority does nothing on Linux for normal threads; setpriority(2) on a thread id sets that
    /// thread's nice value alone (a Linux behaviour, documented in its man page). Lowering needs no privilege.
    /// Elsewhere, or if the call fails, the thread keeps the normal priority: hashing still has its own threads.
    /// </summary>
    private static void LowerThisThreadsPriority()
    {
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            _ = SetPriority(PrioProcess, GetThreadId(), HashingNice);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    private const int PrioProcess = 0;

    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();
}

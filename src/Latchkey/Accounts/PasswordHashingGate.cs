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
/// The hashes themselves run on this gate's own threads (<see cref="RunAsync{T}"/>), one per slot, at the lowest CPU
/// priority: Linux's <c>SCHED_IDLE</c> policy, unless <see cref="PasswordHashingOptions.IdlePriority"/> is false. On
/// the thread pool, a hash holds a pool thread for its whole time, and on a small machine the pool has as many threads as cores:
/// every other request then waits for a hash to end or for the pool to grow. Here a bearer check or refresh that
/// arrives while a hash runs takes the core from it at once, and the hash goes on when the core is free. Under a full
/// load of other requests, logins wait first: a hash waits until the core has time to spare (seconds, when one core is
/// kept busy), and logins queued for a slot are refused after <see cref="PasswordHashingOptions.MaxWait"/>.
/// </para>
/// <para>
/// Why <c>SCHED_IDLE</c> and not only a higher nice value: Linux's scheduler (EEVDF) may let a running thread keep the
/// core until its time slice ends, whatever its nice value, before a thread that wakes up gets it, and the switch then
/// waits for a scheduler tick (4 ms at 250 Hz). At nice 10, client_credentials and /me beside a login flood waited longer
/// at the 99th percentile than with <c>SCHED_IDLE</c>, whose threads any other thread preempts as it wakes (bench/README.md,
/// "Why the hashing threads run at the idle priority"). With <see cref="PasswordHashingOptions.IdlePriority"/> false,
/// or where <c>SCHED_IDLE</c> is refused, the threads run at nice <see cref="HashingNice"/>.
/// </para>
/// </summary>
public sealed class PasswordHashingGate
{
    /// <summary>The nice value of the hashing threads when they do not run SCHED_IDLE: below request handling (0), above idle work (19).</summary>
    public const int HashingNice = 10;

    /// <summary>Linux's SCHED_IDLE scheduling policy (sched(7)), the hashing threads' policy.</summary>
    public const int SchedIdle = 5;

    private readonly BlockingCollection<Action> _work = new();
    private readonly Lazy<Thread[]> _threads;

    private readonly SemaphoreSlim _slots;
    private readonly int _maxQueue;
    private readonly TimeSpan _maxWait;
    private readonly bool _idlePriority;
    private int _waiting;

    public PasswordHashingGate(PasswordHashingOptions options)
    {
        MaxConcurrency = options.MaxConcurrency > 0 ? options.MaxConcurrency : Environment.ProcessorCount;
        _slots = new SemaphoreSlim(MaxConcurrency, MaxConcurrency);
        _maxQueue = options.MaxQueue >= 0 ? options.MaxQueue : 4 * MaxConcurrency;
        _maxWait = options.MaxWait;
        _idlePriority = options.IdlePriority;
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
        LowerThisThreadsPriority(_idlePriority);
        foreach (Action work in _work.GetConsumingEnumerable())
            work();
    }

    /// <summary>
    /// .NET's Thread.Priority does nothing on Linux for normal threads. sched_setscheduler(2) and setpriority(2) with
    /// id 0 / this thread's id change this thread alone (Linux schedules threads, not processes; both man pages say so),
    /// and lowering needs no privilege. Elsewhere, or if both calls fail, the thread keeps the normal priority: hashing
    /// still has its own threads.
    /// </summary>
    private static void LowerThisThreadsPriority(bool idle)
    {
        if (!OperatingSystem.IsLinux())
            return;
        try
        {
            int priority = 0; // struct sched_param is one int, the static priority: 0 for SCHED_IDLE
            if (!idle || SetScheduler(0, SchedIdle, ref priority) != 0)
                _ = SetPriority(PrioProcess, GetThreadId(), HashingNice);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
        }
    }

    [DllImport("libc", EntryPoint = "sched_setscheduler", SetLastError = true)]
    private static extern int SetScheduler(int pid, int policy, ref int param);

    private const int PrioProcess = 0;

    [DllImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static extern int SetPriority(int which, int who, int priority);

    [DllImport("libc", EntryPoint = "gettid")]
    private static extern int GetThreadId();
}

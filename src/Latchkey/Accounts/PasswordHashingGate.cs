namespace Latchkey.Accounts;

/// <summary>
/// Bounded concurrency for Argon2id. A hash takes tens of milliseconds of one core and 19 MiB: run as many as requests
/// arrive and a login flood takes every thread and all memory, so token refreshes and bearer checks queue behind it.
/// At most <see cref="PasswordHashingOptions.MaxConcurrency"/> hashes run at once; a few more logins may wait their
/// turn (<see cref="PasswordHashingOptions.MaxQueue"/>, each for at most <see cref="PasswordHashingOptions.MaxWait"/>);
/// the rest are refused at once with 503 and <c>Retry-After</c>, which costs nothing.
/// </summary>
public sealed class PasswordHashingGate
{
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
}

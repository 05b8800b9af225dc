namespace Latchkey.Storage;

/// <summary>
/// Lets one caller through at most once per interval: for upkeep done on the way through requests (deleting expired
/// rows) rather than by a timer. Lock-free; a caller that loses the race to another simply carries on.
/// </summary>
internal sealed class IntervalGate(TimeSpan interval)
{
    private long _lastTicks = long.MinValue;

    /// <summary>True for the one caller that may do the work now; the interval then counts from <paramref name="now"/>.</summary>
    public bool TryEnter(DateTimeOffset now)
    {
        long last = Interlocked.Read(ref _lastTicks);
        if (last != long.MinValue && now.UtcTicks - last < interval.Ticks)
            return false;
        return Interlocked.CompareExchange(ref _lastTicks, now.UtcTicks, last) == last;
    }

    /// <summary>Opens the gate again at once (more work is waiting), unless another caller entered after <paramref name="enteredAt"/>.</summary>
    public void Reopen(DateTimeOffset enteredAt) => Interlocked.CompareExchange(ref _lastTicks, long.MinValue, enteredAt.UtcTicks);
}

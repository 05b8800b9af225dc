using System.Net;
using System.Security.Cryptography;
using System.Text;
using Latchkey.Storage;

namespace Latchkey.Accounts;

/// <summary>
/// Brute-force protection for password logins (RFC 6749 §4.3.2). Two independent limits:
/// per username (consecutive failures, exponential back-off, reset by a success) and per client address
/// (failures in a sliding window, with a much higher threshold). Counts live in the database, so the CLI,
/// a restart or another node cannot reset an attacker's budget.
/// </summary>
public sealed class LoginThrottle(ILoginFailureStore store, LoginThrottleOptions options, TimeProvider time)
{
    /// <summary>How long the caller must wait, or null when the attempt may proceed (with the username's failure count so far).</summary>
    public async Task<TimeSpan?> CheckAsync(string username, IPAddress? address, CancellationToken cancellationToken) =>
        (await CheckCountingAsync(username, address, cancellationToken)).Wait;

    /// <summary>Like <see cref="CheckAsync"/>, and also the username's consecutive failures so far, for <see cref="TryStartAttemptAsync"/>.</summary>
    public async Task<(TimeSpan? Wait, int UserFailures)> CheckCountingAsync(string username, IPAddress? address, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        LoginFailureCounts counts = await store.GetAsync(UserKey(username), AddressKey(address), now - options.AddressWindow, cancellationToken);

        TimeSpan wait = TimeSpan.Zero;
        if (counts.UserFailures >= options.UserFailureThreshold && counts.UserLastFailureAt is { } last)
        {
            DateTimeOffset lockedUntil = last + UserLockout(counts.UserFailures);
            if (lockedUntil > now)
                wait = lockedUntil - now;
        }

        if (counts.AddressFailuresInWindow >= options.AddressFailureThreshold && counts.OldestAddressFailureInWindow is { } oldest)
        {
            TimeSpan addressWait = oldest + options.AddressWindow - now;
            if (addressWait > wait)
                wait = addressWait;
        }

        return (wait > TimeSpan.Zero ? wait : null, counts.UserFailures);
    }

    /// <summary>
    /// Counts the attempt before its password is checked, and returns null when it may go on, else how long to wait.
    /// Checking first and counting after would let every guess already in flight through (20 sent at once, on one node or
    /// several, were all tested): counted first, each has its own number, and only those within the budget are tested:
    /// up to the threshold while unlocked, one at a time once a lock has run out. The ones refused stay counted.
    /// </summary>
    public async Task<TimeSpan?> TryStartAttemptAsync(string username, int failuresWhenChecked, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        int count = await store.CountUserAttemptAsync(UserKey(username), now, cancellationToken);
        int allowed = Math.Max(options.UserFailureThreshold, failuresWhenChecked + 1);
        return count <= allowed ? null : UserLockout(count);
    }

    /// <summary>The attempt started with <see cref="TryStartAttemptAsync"/> failed: the username is counted already; count the address.</summary>
    public Task RecordAttemptFailedAsync(IPAddress? address, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        return store.RecordAddressFailureAsync(AddressKey(address), now, now - options.AddressWindow, cancellationToken);
    }

    public Task RecordFailureAsync(string username, IPAddress? address, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        return store.RecordFailureAsync(UserKey(username), AddressKey(address), now, now - options.AddressWindow, cancellationToken);
    }

    public Task RecordSuccessAsync(string username, CancellationToken cancellationToken) =>
        store.ResetUserAsync(UserKey(username), cancellationToken);

    /// <summary>The lock after the n-th consecutive failure: the base lock, doubled for each failure past the threshold.</summary>
    internal TimeSpan UserLockout(int failures)
    {
        int doublings = Math.Min(failures - options.UserFailureThreshold, 30);
        double seconds = options.UserLockout.TotalSeconds * Math.Pow(2, doublings);
        return TimeSpan.FromSeconds(Math.Min(seconds, options.MaxUserLockout.TotalSeconds));
    }

    // Attempted usernames can be passwords typed into the wrong field, so only their hash is stored.
    internal static string UserKey(string username) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes("latchkey-login:" + username)));

    /// <summary>An IPv6 client controls a whole /64, so failures are counted per /64, not per address (<see cref="ClientNetwork"/>).</summary>
    internal static string AddressKey(IPAddress? address) => ClientNetwork.Key(address);
}

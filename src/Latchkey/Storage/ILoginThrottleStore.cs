namespace Latchkey.Storage;

/// <summary>
/// What the login throttle knows before an attempt: this username's consecutive failures from this address (the streak),
/// this username's failures from every address in its window, this address's failures for every username in its window,
/// and whether this user logged in successfully from this address recently.
/// </summary>
public sealed record LoginThrottleCounts(
    int StreakFailures,
    DateTimeOffset? StreakLastFailureAt,
    int UsernameFailures,
    DateTimeOffset? UsernameOldestFailure,
    int AddressFailures,
    DateTimeOffset? AddressOldestFailure,
    bool KnownAddress);

/// <summary>An attempt counted before its password is checked, and the counts with it included.</summary>
public sealed record LoginAttempt(
    long Id,
    int StreakFailures,
    int UsernameFailures,
    DateTimeOffset? UsernameOldestFailure,
    int AddressFailures,
    DateTimeOffset? AddressOldestFailure);

/// <summary>
/// A lock on logins, kept for the audit log: one event when it starts, one when it has ended, with the number of attempts
/// it refused. <paramref name="Kind"/> is <c>pair</c> (a username from one address), <c>username</c> (a username from every
/// address but those it logged in from) or <c>address</c>; <paramref name="Key"/> identifies it (hashed username, address).
/// </summary>
public sealed record LoginLock(string Kind, string Key, string Subject, string? Address, DateTimeOffset StartedAt, DateTimeOffset Until, long Refused = 0);

/// <summary>
/// Failed-login counters, kept in the database so that every node and the CLI see the same counts. Usernames arrive as
/// keyed hashes: attempted names can hold passwords typed into the wrong field.
/// </summary>
public interface ILoginThrottleStore
{
    Task<LoginThrottleCounts> ReadAsync(string userKey, string address, DateTimeOffset usernameWindowStart, DateTimeOffset addressWindowStart,
        DateTimeOffset knownSince, CancellationToken cancellationToken);

    /// <summary>
    /// Counts an attempt as a failure before its password is checked, atomically across nodes, and returns the counts with
    /// it: concurrent guesses each get their own number, so no more of them are tested than the budget allows.
    /// </summary>
    Task<LoginAttempt> StartAttemptAsync(string userKey, string address, DateTimeOffset at, DateTimeOffset usernameWindowStart,
        DateTimeOffset addressWindowStart, CancellationToken cancellationToken);

    /// <summary>
    /// The attempt's password was right: it is not a failure after all, the streak from this address ends, and the address
    /// becomes one this user logged in from. One transaction.
    /// </summary>
    Task AttemptSucceededAsync(long attemptId, string userKey, string address, DateTimeOffset at, CancellationToken cancellationToken);

    /// <summary>
    /// Holds <paramref name="hold"/>: starts it when no lock of its kind and key is in force at <paramref name="now"/>, else
    /// extends the one in force to its <c>Until</c> (never shortens it). With <paramref name="refused"/>, also counts one
    /// attempt the lock refused. Returns whether a lock started, and the lock it replaced when that one had ended (and was
    /// not yet reported).
    /// </summary>
    Task<(bool Started, LoginLock? Ended)> HoldLockAsync(LoginLock hold, DateTimeOffset now, bool refused, CancellationToken cancellationToken);

    /// <summary>Removes and returns up to <paramref name="limit"/> locks that ended at or before <paramref name="now"/>; each is returned to one caller only.</summary>
    Task<IReadOnlyList<LoginLock>> TakeEndedLocksAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken);

    /// <summary>Deletes failures older than their window, streaks untouched since <paramref name="streaksBefore"/> and addresses not logged in from since <paramref name="knownBefore"/>.</summary>
    Task<int> PurgeAsync(DateTimeOffset attemptsBefore, DateTimeOffset streaksBefore, DateTimeOffset knownBefore, CancellationToken cancellationToken);
}

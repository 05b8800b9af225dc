using System.Net;
using System.Security.Cryptography;
using System.Text;
using Latchkey.Audit;
using Latchkey.Diagnostics;
using Latchkey.Keys;
using Latchkey.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Accounts;

/// <summary>
/// Who a password login is: the username's keyed hash (<see cref="LoginThrottle.UserKey"/>), the client's address (IPv6:
/// its /64), and the name the audit log gives it (the account's name, or a hash prefix for an unknown one).
/// </summary>
internal sealed record LoginSubject(string UserKey, string Address, string Subject, string? ClientId, IPAddress? ClientAddress);

/// <summary>
/// Brute-force protection for password logins (RFC 6749 §4.3.2), in three limits, none of which an attacker can turn
/// against the account's owner (<see cref="LoginThrottleOptions"/>): a username from one address (consecutive failures,
/// exponential back-off, reset by a success there); a username from every address except those its owner logged in from
/// (failures in a sliding window); an address, for every username (failures in a sliding window). Counts live in the
/// database, so the CLI, a restart or another node cannot reset an attacker's budget. A throttled attempt costs its check
/// and one counter: each lock is audited once when it starts and once when it has ended, with the attempts it refused.
/// </summary>
internal sealed class LoginThrottle(ILoginThrottleStore store, MasterKeys masterKeys, AuditTrail audit, LatchkeyMetrics metrics,
    IOptions<LatchkeyOptions> options, TimeProvider time, ILogger<LoginThrottle> logger)
{
    private const string PairLock = "pair";
    private const string UsernameLock = "username";
    private const string AddressLock = "address";

    private LoginThrottleOptions Options => options.Value.LoginThrottle;

    /// <summary>Who is logging in; <paramref name="accountName"/> is the account's name when it exists.</summary>
    public LoginSubject Subject(string normalizedUsername, IPAddress? address, string? accountName, string? clientId)
    {
        string userKey = UserKey(normalizedUsername);
        // An unknown "username" is often a password typed into the wrong field: only a prefix of its keyed hash is shown.
        return new LoginSubject(userKey, AddressKey(address), accountName ?? "unknown#" + userKey[..12], clientId, address);
    }

    /// <summary>
    /// How long the attempt must wait, or null when it may go on; and the counts it was decided on, for
    /// <see cref="StartAttemptAsync"/>. A refused attempt is counted on the lock that refused it, and that is all it costs.
    /// </summary>
    public async Task<(TimeSpan? Wait, LoginThrottleCounts Counts)> CheckAsync(LoginSubject who, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        LoginThrottleCounts counts = await store.ReadAsync(who.UserKey, who.Address, now - Options.UsernameWindow, now - Options.AddressWindow,
            now - Options.KnownAddressLifetime, cancellationToken);

        LoginLock? binding = null;
        void Consider(string kind, string key, string? address, DateTimeOffset until)
        {
            if (until > now && (binding is null || until > binding.Until))
                binding = new LoginLock(kind, key, kind == AddressLock ? who.Address : who.Subject, address, now, until);
        }

        if (counts.StreakFailures >= Options.FailureThreshold && counts.StreakLastFailureAt is { } last)
            Consider(PairLock, PairKey(who), who.Address, last + Lockout(counts.StreakFailures));
        if (!counts.KnownAddress && counts.UsernameFailures >= Options.UsernameFailureThreshold && counts.UsernameOldestFailure is { } userOldest)
            Consider(UsernameLock, who.UserKey, null, userOldest + Options.UsernameWindow);
        if (counts.AddressFailures >= Options.AddressFailureThreshold && counts.AddressOldestFailure is { } addressOldest)
            Consider(AddressLock, who.Address, who.Address, addressOldest + Options.AddressWindow);

        if (binding is null)
            return (null, counts);
        // The counts decide; the lock's row follows them (extended, or started again if it was reported ended while the
        // counts still lock), and counts the refusal: one write, and an audit event only when a lock starts.
        await HoldAsync(who, binding, refused: true, now, cancellationToken);
        Refused(who, binding.Until - now);
        return (binding.Until - now, counts);
    }

    /// <summary>
    /// Counts the attempt before its password is checked, and returns it with null when it may go on, else how long to
    /// wait. Checking first and counting after would let every guess already in flight through (20 sent at once, on one
    /// node or several, were all tested): counted first, each has its own number, and only those within the budget are
    /// tested: up to the threshold while unlocked, one at a time once a lock has run out. The ones refused stay counted.
    /// </summary>
    public async Task<(LoginAttempt Attempt, TimeSpan? Wait)> StartAttemptAsync(LoginSubject who, LoginThrottleCounts whenChecked, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        LoginAttempt attempt = await store.StartAttemptAsync(who.UserKey, who.Address, now, now - Options.UsernameWindow, now - Options.AddressWindow, cancellationToken);
        bool overBudget = attempt.StreakFailures > Math.Max(Options.FailureThreshold, whenChecked.StreakFailures + 1) ||
                          (!whenChecked.KnownAddress && attempt.UsernameFailures > Options.UsernameFailureThreshold) ||
                          attempt.AddressFailures > Options.AddressFailureThreshold;
        if (!overBudget)
            return (attempt, null);

        TimeSpan wait = await HoldLocksAsync(who, attempt, whenChecked.KnownAddress, cancellationToken) ?? Options.Lockout;
        Refused(who, wait);
        return (attempt, wait);
    }

    /// <summary>The password was right: the attempt is no failure, the streak from this address ends, the address is now known for this user.</summary>
    public Task SucceededAsync(LoginSubject who, LoginAttempt attempt, CancellationToken cancellationToken) =>
        store.AttemptSucceededAsync(attempt.Id, who.UserKey, who.Address, time.GetUtcNow(), cancellationToken);

    /// <summary>The password was wrong (or the user unknown or disabled): the attempt stays counted, and may start a lock.</summary>
    public Task FailedAsync(LoginSubject who, LoginAttempt attempt, LoginThrottleCounts whenChecked, CancellationToken cancellationToken) =>
        HoldLocksAsync(who, attempt, whenChecked.KnownAddress, cancellationToken);

    /// <summary>Audits every lock that has ended (with how many attempts it refused); for the housekeeping schedule.</summary>
    public async Task<int> ReportEndedLocksAsync(int limit, CancellationToken cancellationToken)
    {
        IReadOnlyList<LoginLock> ended = await store.TakeEndedLocksAsync(time.GetUtcNow(), limit, cancellationToken);
        foreach (LoginLock endedLock in ended)
            await AuditEndedAsync(endedLock, cancellationToken);
        return ended.Count;
    }

    /// <summary>
    /// Starts or extends the locks this attempt's counts call for, auditing each lock once as it starts (and the one it
    /// replaces, if that had ended unreported). Returns the longest wait they impose, or null when none applies.
    /// </summary>
    private async Task<TimeSpan?> HoldLocksAsync(LoginSubject who, LoginAttempt attempt, bool knownAddress, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        var holds = new List<LoginLock>(3);
        if (attempt.StreakFailures >= Options.FailureThreshold)
            holds.Add(new LoginLock(PairLock, PairKey(who), who.Subject, who.Address, now, now + Lockout(attempt.StreakFailures)));
        if (!knownAddress && attempt.UsernameFailures >= Options.UsernameFailureThreshold)
            holds.Add(new LoginLock(UsernameLock, who.UserKey, who.Subject, null, now, (attempt.UsernameOldestFailure ?? now) + Options.UsernameWindow));
        if (attempt.AddressFailures >= Options.AddressFailureThreshold)
            holds.Add(new LoginLock(AddressLock, who.Address, who.Address, who.Address, now, (attempt.AddressOldestFailure ?? now) + Options.AddressWindow));

        TimeSpan? longest = null;
        foreach (LoginLock hold in holds)
        {
            await HoldAsync(who, hold, refused: false, now, cancellationToken);
            if (hold.Until - now is var wait && wait > (longest ?? TimeSpan.Zero))
                longest = wait;
        }

        return longest;
    }

    /// <summary>Holds one lock, auditing the one it replaces if that had ended, and its start if it starts.</summary>
    private async Task HoldAsync(LoginSubject who, LoginLock hold, bool refused, DateTimeOffset now, CancellationToken cancellationToken)
    {
        (bool started, LoginLock? ended) = await store.HoldLockAsync(hold, now, refused, cancellationToken);
        if (ended is not null)
            await AuditEndedAsync(ended, cancellationToken);
        if (started)
        {
            await audit.WriteAsync(new AuditEvent(now, AuditEvents.LoginLocked, AuditOutcomes.Locked, Subject: hold.Subject, ClientId: who.ClientId,
                Address: hold.Address, Detail: $"{Describe(hold.Kind)} locked until {hold.Until.UtcDateTime:O}"), cancellationToken);
        }
    }

    private void Refused(LoginSubject who, TimeSpan wait)
    {
        metrics.LoginThrottled();
        Log.LoginThrottled(logger, who.Subject, who.Address, wait);
    }

    private Task AuditEndedAsync(LoginLock ended, CancellationToken cancellationToken) =>
        audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.LoginLockEnded, AuditOutcomes.Unlocked, Subject: ended.Subject, Address: ended.Address,
            Detail: $"{Describe(ended.Kind)} locked from {ended.StartedAt.UtcDateTime:O} to {ended.Until.UtcDateTime:O}; {ended.Refused} attempts refused"),
            cancellationToken);

    private static string Describe(string kind) => kind switch
    {
        PairLock => "username at this address",
        UsernameLock => "username at every address it has not logged in from",
        _ => "address",
    };

    private static string PairKey(LoginSubject who) => who.UserKey + "|" + who.Address;

    /// <summary>The lock after the n-th consecutive failure: the base lock, doubled for each failure past the threshold.</summary>
    internal TimeSpan Lockout(int failures)
    {
        int doublings = Math.Clamp(failures - Options.FailureThreshold, 0, 30);
        double seconds = Options.Lockout.TotalSeconds * Math.Pow(2, doublings);
        return TimeSpan.FromSeconds(Math.Min(seconds, Options.MaxLockout.TotalSeconds));
    }

    /// <summary>
    /// Attempted usernames can be passwords typed into the wrong field, so only an HMAC of them is stored or logged, keyed
    /// by a key derived from the master key: a bare hash could be reversed by hashing a dictionary of names.
    /// </summary>
    internal string UserKey(string normalizedUsername) =>
        Convert.ToHexString(HMACSHA256.HashData(masterKeys.LoginNameKey, Encoding.UTF8.GetBytes(normalizedUsername)));

    /// <summary>An IPv6 client controls a whole /64, so failures are counted per /64, not per address (<see cref="ClientNetwork"/>).</summary>
    internal static string AddressKey(IPAddress? address) => ClientNetwork.Key(address);
}

using System.Net;
using Latchkey.Audit;
using Latchkey.Storage;
using Microsoft.Extensions.Logging;

namespace Latchkey.Accounts;

/// <summary>The outcome of a password login. Exactly one of the three shapes.</summary>
public sealed record LoginResult
{
    public UserRecord? User { get; private init; }
    public TimeSpan? RetryAfter { get; private init; }
    public string? FailureReason { get; private init; }

    public static LoginResult Success(UserRecord user) => new() { User = user };
    public static LoginResult Throttled(TimeSpan retryAfter) => new() { RetryAfter = retryAfter, FailureReason = "throttled" };
    public static LoginResult Failed(string reason) => new() { FailureReason = reason };

    /// <summary>Too many logins are being checked right now: nothing was checked; try again after <paramref name="retryAfter"/>.</summary>
    public static LoginResult Busy(TimeSpan retryAfter) => new() { RetryAfter = retryAfter, FailureReason = "busy", IsBusy = true };

    public bool IsBusy { get; private init; }
}

/// <summary>
/// Checks a username and password, in this order: throttle, look up, verify, account state. Unknown users,
/// wrong passwords and disabled accounts all cost one Argon2id verification and give the same answer.
/// </summary>
public sealed class PasswordLogin(IUserStore users, PasswordHasher hasher, PasswordHashingGate hashing, LoginThrottle throttle, LatchkeyMetrics metrics, AuditTrail audit,
    TimeProvider time, ILogger<PasswordLogin> logger)
{
    public async Task<LoginResult> LoginAsync(string username, string password, IPAddress? address, string? clientId, CancellationToken cancellationToken)
    {
        string normalized = Usernames.Normalize(username);
        string addressText = LoginThrottle.AddressKey(address);
        UserRecord? user = await users.FindByUsernameAsync(normalized, cancellationToken);
        // An unknown "username" is often a password typed into the wrong field: log only a hash prefix of it.
        string logName = user?.Username ?? "unknown#" + LoginThrottle.UserKey(normalized)[..12];

        // A locked username is refused before the password is checked: a guess made while locked is never tested.
        (TimeSpan? locked, int failuresSoFar) = await throttle.CheckCountingAsync(normalized, address, cancellationToken);
        if (locked is { } wait)
        {
            Log.LoginThrottled(logger, logName, addressText, wait);
            metrics.LoginThrottled();
            await AuditAsync(AuditEvents.LoginThrottled, "refused", logName, clientId, address, $"retry after {wait.TotalSeconds:0} s", cancellationToken);
            return LoginResult.Throttled(wait);
        }

        // Refused before hashing, and not counted as a failure: the password was never checked.
        if (!await hashing.TryEnterAsync(cancellationToken))
            return LoginResult.Busy(PasswordHashingGate.RetryAfter); // counted by latchkey_token_request_duration{outcome="temporarily_unavailable"}

        // Counted before the password is checked, so guesses sent at once (to one node or many) share one budget.
        TimeSpan? overBudget;
        string? failure = null;
        bool needsRehash = false;
        try
        {
            overBudget = await throttle.TryStartAttemptAsync(normalized, failuresSoFar, cancellationToken);
            if (overBudget is null)
            {
                if (user is null)
                {
                    await hashing.RunAsync(() => { hasher.VerifyDummy(password); return true; });
                    failure = "unknown user";
                }
                else
                {
                    (bool verified, needsRehash) = await hashing.RunAsync(() => (hasher.Verify(password, user.PasswordHash, out bool rehash), rehash));
                    failure = !verified ? "wrong password" : user.Disabled ? "account disabled" : null;
                }
            }
        }
        finally
        {
            hashing.Exit();
        }

        if (overBudget is { } over)
        {
            Log.LoginThrottled(logger, logName, addressText, over);
            metrics.LoginThrottled();
            await AuditAsync(AuditEvents.LoginThrottled, "refused", logName, clientId, address, $"retry after {over.TotalSeconds:0} s", cancellationToken);
            return LoginResult.Throttled(over);
        }

        if (failure is not null)
        {
            await throttle.RecordAttemptFailedAsync(address, cancellationToken);
            Log.LoginFailed(logger, logName, addressText, failure);
            metrics.LoginFailed();
            await AuditAsync(AuditEvents.LoginFailed, "failure", logName, clientId, address, failure, cancellationToken);
            return LoginResult.Failed(failure);
        }

        await throttle.RecordSuccessAsync(normalized, cancellationToken);
        await AuditAsync(AuditEvents.LoginSucceeded, "success", user!.Username, clientId, address, null, cancellationToken);
        if (needsRehash && await users.TryUpgradePasswordHashAsync(user!.Username, user.PasswordHash, hasher.Hash(password), cancellationToken))
            Log.PasswordHashUpgraded(logger, user.Username);
        return LoginResult.Success(user!);
    }

    // The subject is the account's name, or the hash prefix of an unknown name: never the text typed as a name.
    private Task AuditAsync(string type, string outcome, string subject, string? clientId, IPAddress? address, string? detail, CancellationToken cancellationToken) =>
        audit.WriteAsync(new AuditEvent(time.GetUtcNow(), type, outcome, Subject: subject, ClientId: clientId, Address: address?.ToString(), Detail: detail),
            cancellationToken);
}

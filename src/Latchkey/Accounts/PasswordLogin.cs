using System.Net;
using Latchkey.Audit;
using Latchkey.Diagnostics;
using Latchkey.Storage;
using Microsoft.Extensions.Logging;

namespace Latchkey.Accounts;

/// <summary>The outcome of a password login. Exactly one of the three shapes.</summary>
public sealed record LoginResult
{
    public UserAccount? User { get; private init; }
    public TimeSpan? RetryAfter { get; private init; }
    public string? FailureReason { get; private init; }

    /// <summary>
    /// For a success: when the login began, before the account was read. What the login's tokens are as good as: a cut-off
    /// of the user's tokens after this moment refuses them, however long the password check took.
    /// </summary>
    public DateTimeOffset AuthenticatedAt { get; private init; }

    public static LoginResult Success(UserAccount user, DateTimeOffset authenticatedAt) => new() { User = user, AuthenticatedAt = authenticatedAt };
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
internal sealed class PasswordLogin(IUserStore users, PasswordHasher hasher, PasswordHashingGate hashing, LoginThrottle throttle, LatchkeyMetrics metrics,
    AuditTrail audit, TimeProvider time, ILogger<PasswordLogin> logger)
{
    public async Task<LoginResult> LoginAsync(string username, string password, IPAddress? address, string? clientId, CancellationToken cancellationToken)
    {
        // Before the account is read: a change to it (password, disable, logout) that commits after this moment refuses this
        // login's tokens, even if the read below saw the account as it was before the change.
        DateTimeOffset startedAt = time.GetUtcNow();
        string normalized = Usernames.Normalize(username);
        UserRecord? user = await users.FindByUsernameAsync(normalized, cancellationToken);
        LoginSubject who = throttle.Subject(normalized, address, user?.Username, clientId);

        // 1. A locked username or address is refused before the password is checked: a guess made while locked is never tested.
        (TimeSpan? locked, LoginThrottleCounts counts) = await throttle.CheckAsync(who, cancellationToken);
        if (locked is { } wait)
            return LoginResult.Throttled(wait);

        // 2. Refused before hashing, and not counted as a failure: the password was never checked.
        if (!await hashing.TryEnterAsync(cancellationToken))
            return LoginResult.Busy(PasswordHashingGate.RetryAfter); // counted by latchkey_token_request_duration{outcome="temporarily_unavailable"}

        // 3. Counted before the password is checked, so guesses sent at once (to one node or many) share one budget.
        LoginAttempt attempt;
        TimeSpan? overBudget;
        string? failure = null;
        bool needsRehash = false;
        try
        {
            (attempt, overBudget) = await throttle.StartAttemptAsync(who, counts, cancellationToken);
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
            return LoginResult.Throttled(over);

        // 4. The outcome: a failure stays counted (and may start a lock); a success clears this address's streak.
        if (failure is not null)
        {
            await throttle.FailedAsync(who, attempt, counts, cancellationToken);
            Log.LoginFailed(logger, who.Subject, who.Address, failure);
            metrics.LoginFailed();
            await AuditAsync(AuditEvents.LoginFailed, AuditOutcomes.Failure, who, failure, cancellationToken);
            return LoginResult.Failed(failure);
        }

        // 5. The account again, as it is now: a password change, a disable or a cut-off committed while the hash ran wins over
        // the row read before it (the login's tokens would be refused by Latchkey anyway; refused here, none is issued at all).
        UserRecord? current = await users.FindByIdAsync(user!.Id, cancellationToken);
        if (current is null || current.Disabled || current.PasswordChangedAt != user.PasswordChangedAt || current.TokensValidAfter >= startedAt)
        {
            const string changed = "account changed while the password was checked";
            await throttle.FailedAsync(who, attempt, counts, cancellationToken);
            Log.LoginFailed(logger, who.Subject, who.Address, changed);
            metrics.LoginFailed();
            await AuditAsync(AuditEvents.LoginFailed, AuditOutcomes.Failure, who, changed, cancellationToken);
            return LoginResult.Failed(changed);
        }

        await throttle.SucceededAsync(who, attempt, cancellationToken);
        await AuditAsync(AuditEvents.LoginSucceeded, AuditOutcomes.Success, who, null, cancellationToken);
        if (needsRehash && await users.TryUpgradePasswordHashAsync(user.Username, user.PasswordHash, hasher.Hash(password), cancellationToken))
            Log.PasswordHashUpgraded(logger, user.Username);
        return LoginResult.Success(UserAccount.From(current), startedAt);
    }

    // The subject is the account's name, or the hash prefix of an unknown name: never the text typed as a name.
    private Task AuditAsync(string type, string outcome, LoginSubject who, string? detail, CancellationToken cancellationToken) =>
        audit.WriteAsync(new AuditEvent(time.GetUtcNow(), type, outcome, Subject: who.Subject, ClientId: who.ClientId, Address: who.ClientAddress?.ToString(),
            Detail: detail), cancellationToken);
}

using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using Latchkey.Audit;
using Latchkey.Protocol;
using Latchkey.Storage;
using Microsoft.Extensions.Options;

namespace Latchkey.Accounts;

/// <summary>
/// A live browser sign-in: who, since when (<see cref="AuthTime"/>, an id token's <c>auth_time</c>), how (<see cref="Amr"/>,
/// <see cref="SignInMethods"/>), and its id (<c>sid</c>).
/// </summary>
public sealed record LoginSession(string SessionId, UserAccount User, DateTimeOffset AuthTime, IReadOnlyList<string> Amr);

/// <summary>One of a user's live sessions, as their account page lists it.</summary>
public sealed record SessionEntry(string SessionId, string? Device, string? Address, DateTimeOffset AuthTime, DateTimeOffset LastUsedAt);

/// <summary>
/// Browser sign-in sessions, the one owner of their rules: a login starts one (its secret goes in the browser's cookie, its
/// hash in the database, so every node knows it); it lives until logout, its idle timeout or its absolute lifetime
/// (<see cref="SessionOptions"/>), and ends when the user is disabled or their tokens are cut off (logout, password or role
/// change) after it began.
/// </summary>
internal sealed class LoginSessions(ILoginSessionStore store, IUserStore users, AuditTrail audit, IOptions<LatchkeyOptions> options, TimeProvider time)
{
    /// <summary>How stale a session's last-use time may get before a use writes it again: one small write a minute, not one per request.</summary>
    private static readonly TimeSpan TouchGranularity = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Starts a session for a user who has just logged in at <paramref name="authTime"/>, and returns the secret for the cookie.
    /// A session the browser held before (<paramref name="previousSecret"/>) ends: the id changes at every login.
    /// </summary>
    public async Task<(string Secret, LoginSession Session)> StartAsync(UserAccount user, DateTimeOffset authTime, IReadOnlyList<string> amr,
        string? previousSecret, IPAddress? address, CancellationToken cancellationToken, string? device = null)
    {
        if (previousSecret is not null && await FindRecordAsync(previousSecret, cancellationToken) is { EndedAt: null } previous)
            await EndAsync(previous.SessionId, previous.UserId, "a new login in the same browser", address, cancellationToken);

        string secret = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));
        string sessionId = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
        DateTimeOffset now = time.GetUtcNow();
        await store.AddAsync(new LoginSessionRecord(sessionId, Hash(secret), user.Id, authTime, now, authTime + options.Value.Sessions.AbsoluteLifetime,
            EndedAt: null, address?.ToString(), SignInMethods.Format(amr))
        { Device = Shorten(device) }, cancellationToken);
        await audit.WriteAsync(new AuditEvent(now, AuditEvents.SessionStarted, AuditOutcomes.Success, Subject: user.Username, Address: address?.ToString(),
            Detail: $"session {sessionId}, signed in with {SignInMethods.Format(amr)}"), cancellationToken);
        return (secret, new LoginSession(sessionId, user, authTime, amr));
    }

    /// <summary>The live session the cookie's secret names, or null (none, ended, timed out, or its user cut off since it began).</summary>
    public async Task<LoginSession?> FindLiveAsync(string? secret, CancellationToken cancellationToken)
    {
        if (secret is null || await FindRecordAsync(secret, cancellationToken) is not { } record)
            return null;
        if (await LiveAsync(record, cancellationToken) is not { } session)
            return null;
        DateTimeOffset now = time.GetUtcNow();
        if (now - record.LastUsedAt >= TouchGranularity)
            await store.TouchAsync(record.SessionId, now, cancellationToken);
        return session;
    }

    /// <summary>The session by its id if it is still live (an authorization code's session, at the code's exchange).</summary>
    public async Task<LoginSession?> FindLiveByIdAsync(string sessionId, CancellationToken cancellationToken) =>
        await store.FindAsync(sessionId, cancellationToken) is { } record ? await LiveAsync(record, cancellationToken) : null;

    private async Task<LoginSession?> LiveAsync(LoginSessionRecord record, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (record.EndedAt is not null || record.ExpiresAt <= now || record.LastUsedAt + options.Value.Sessions.IdleTimeout <= now)
            return null;
        UserRecord? user = await users.FindByIdAsync(record.UserId, cancellationToken);
        // A cut-off at or after the login (disable, logout, password or role change) ends it, as it ends the login's tokens.
        if (user is null || user.Disabled || user.TokensValidAfter >= record.AuthTime || user.PasswordChangedAt > record.AuthTime)
            return null;
        return new LoginSession(record.SessionId, UserAccount.From(user), record.AuthTime, SignInMethods.Parse(record.Amr));
    }

    /// <summary>Ends one session (logout), audited with <paramref name="why"/>; false when it had already ended.</summary>
    public async Task<bool> EndAsync(string sessionId, string userId, string why, IPAddress? address, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (!await store.EndAsync(sessionId, now, cancellationToken))
            return false;
        string? username = (await users.FindByIdAsync(userId, cancellationToken))?.Username;
        await audit.WriteAsync(new AuditEvent(now, AuditEvents.SessionEnded, AuditOutcomes.Success, Subject: username ?? userId, Address: address?.ToString(),
            Detail: $"session {sessionId}: {why}"), cancellationToken);
        return true;
    }

    /// <summary>
    /// A new session for the browser whose user just changed how they sign in (a password, a second factor), which ended every
    /// session of theirs: <paramref name="user"/> is the account after that cut-off, and the new session begins after it.
    /// </summary>
    public Task<(string Secret, LoginSession Session)> RenewAsync(UserAccount user, IReadOnlyList<string> amr, IPAddress? address, string? device,
        CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        DateTimeOffset authTime = user.TokensValidAfter is { } cutOff && now <= cutOff ? cutOff.AddMilliseconds(1) : now;
        return StartAsync(user, authTime, amr, previousSecret: null, address, cancellationToken, device);
    }

    /// <summary>The user's live sessions, most recently used first.</summary>
    public async Task<IReadOnlyList<SessionEntry>> ListAsync(UserAccount user, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        return (await store.ListOpenOfUserAsync(user.Id, now, cancellationToken))
            .Where(r => r.LastUsedAt + options.Value.Sessions.IdleTimeout > now && r.AuthTime > (user.TokensValidAfter ?? DateTimeOffset.MinValue) &&
                        r.AuthTime >= user.PasswordChangedAt)
            .Select(r => new SessionEntry(r.SessionId, r.Device, r.Address, r.AuthTime, r.LastUsedAt))
            .ToArray();
    }

    /// <summary>Ends one of the user's own sessions (from their account page); false when it is not theirs or has ended.</summary>
    public async Task<bool> EndOwnAsync(UserAccount user, string sessionId, IPAddress? address, CancellationToken cancellationToken) =>
        sessionId.Length <= 64 && await store.FindAsync(sessionId, cancellationToken) is { EndedAt: null } record && record.UserId == user.Id &&
        await EndAsync(sessionId, user.Id, "ended by the user on their account page", address, cancellationToken);

    /// <summary>A browser's User-Agent, cut to what a list needs: never more than 200 characters, no control characters.</summary>
    private static string? Shorten(string? device) =>
        string.IsNullOrWhiteSpace(device) ? null : new string(device.Where(c => !char.IsControl(c)).Take(200).ToArray());

    /// <summary>Ends every live session of the user (their tokens were cut off at <paramref name="at"/>), and returns how many.</summary>
    public Task<int> EndAllOfUserAsync(string userId, DateTimeOffset at, CancellationToken cancellationToken) =>
        store.EndAllOfUserAsync(userId, at, cancellationToken);

    /// <summary>Deletes sessions that ended or expired more than a day ago.</summary>
    public Task<int> PurgeAsync(int limit, CancellationToken cancellationToken) =>
        store.PurgeAsync(time.GetUtcNow() - TimeSpan.FromDays(1), limit, cancellationToken);

    private Task<LoginSessionRecord?> FindRecordAsync(string secret, CancellationToken cancellationToken) =>
        secret.Length is > 0 and <= 64 ? store.FindBySecretHashAsync(Hash(secret), cancellationToken) : Task.FromResult<LoginSessionRecord?>(null);

    private static string Hash(string secret) => Convert.ToHexStringLower(SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret)));
}

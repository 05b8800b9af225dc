using System.Buffers.Text;
using System.Net;
using System.Security.Cryptography;
using Latchkey.Audit;
using Latchkey.Diagnostics;
using Latchkey.Protocol;
using Latchkey.Storage;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Tokens;

/// <summary>
/// The one owner of refresh-token families (RFC 9700 §4.14): one family per login, started at sign-in, rotated at every
/// refresh, revoked as a whole. Everything that finds, rotates, revokes or describes a refresh token comes here; nothing
/// else touches <see cref="IRefreshTokenStore"/>. Revoking a family always records it for every node, refuses its access
/// tokens here at once (their <c>sid</c> is the family) and writes one <see cref="AuditEvents.FamilyRevoked"/> event.
/// </summary>
internal sealed class RefreshTokenFamilies(
    IRefreshTokenStore store, Revocations revocations, AuditTrail audit, LatchkeyMetrics metrics, IOptions<LatchkeyOptions> options, TimeProvider time,
    ILogger<RefreshTokenFamilies> logger)
{
    /// <summary>How often a rotation also clears sealed successors whose reuse window has ended, when none are left over.</summary>
    public static readonly TimeSpan SealSweepInterval = TimeSpan.FromSeconds(1);

    /// <summary>The most one sweep clears: short enough that other rotations barely wait for it (SQLite has one writer).</summary>
    public const int SealSweepBatch = 500;

    private readonly IntervalGate _sealSweep = new(SealSweepInterval);

    /// <summary>
    /// Starts a family for a fresh login and returns its first token and the family's id (the login's <c>sid</c>). The family
    /// is as old as <paramref name="loggedInAt"/>, when the login began (and its lifetime counts from then): a cut-off of the
    /// user's or the client's tokens after that moment ends it, even if it was stored after the cut-off.
    /// </summary>
    public async Task<(string Token, string FamilyId)> StartAsync(string userId, string clientId, string? scope, DateTimeOffset loggedInAt,
        CancellationToken cancellationToken, string? signInSessionId = null, string amr = Protocol.SignInMethods.Password)
    {
        RefreshTokenOptions o = options.Value.RefreshTokens;
        string familyId = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
        var family = new RefreshFamilyRecord(familyId, userId, clientId, loggedInAt, loggedInAt + o.AbsoluteLifetime, RevokedAt: null)
        {
            SessionId = signInSessionId,
            Amr = amr,
        };
        string token = RefreshTokens.Generate();
        await store.AddFamilyAsync(family, Record(token, family, scope, time.GetUtcNow()), cancellationToken);
        return (token, familyId);
    }

    /// <summary>The login a presented refresh token belongs to, or null when it is not one of ours (malformed or unknown).</summary>
    public async Task<RefreshLogin?> FindAsync(string presented, CancellationToken cancellationToken)
    {
        // Anything not shaped like one of ours is refused before the database is asked.
        if (!RefreshTokens.HasValidShape(presented))
            return null;
        return await store.FindAsync(RefreshTokens.Hash(presented), cancellationToken) is { } found ? new RefreshLogin(found) : null;
    }

    /// <summary>
    /// Why the login is over, or null while it stands: its family was revoked; its user was removed or disabled, or changed
    /// password, or had their tokens cut off (roles, logout) since it began; its client's tokens were cut off since (disabled
    /// or removed, then enabled again). This node's copy of the client cut-offs is what counts for the client.
    /// </summary>
    public string? WhyEnded(RefreshLogin login)
    {
        if (login.Revoked)
            return "refresh token family revoked";
        DateTimeOffset began = login.LoggedInAt;
        if (login.Stored.User is not { } user || user.Disabled)
            return "the user is disabled or removed";
        if (user.PasswordChangedAt > began || user.TokensValidAfter >= began)
            return "the user's tokens were cut off since this login";
        if (revocations.ClientCutOff(login.ClientId) >= began.ToUnixTimeMilliseconds())
            return "the client's tokens were cut off since this login";
        return null;
    }

    /// <summary>
    /// The one rule for "this refresh token is live": its login stands (<see cref="WhyEnded"/>), and this token is unspent and
    /// unexpired, as is its family.
    /// </summary>
    public bool IsLive(RefreshLogin login, DateTimeOffset now) =>
        WhyEnded(login) is null && login.Stored.Token.SpentAt is null && login.Stored.Token.ExpiresAt > now && login.Stored.Family.AbsoluteExpiresAt > now;

    /// <summary>What <see cref="RevokeAsync"/> says a family was revoked for, in its audit event.</summary>
    public static class Reasons
    {
        public const string ReuseDetected = "reuse detected";
        public const string RevokedByClient = "revoked by the client";
        public const string CodeReplayed = "its authorization code was redeemed again";
        public const string LoggedOut = "the user logged out of the session it was issued in";
        public const string ConsentWithdrawn = "the user withdrew consent to the client";
    }

    /// <summary>
    /// Revokes the family, records it for every node, refuses its access tokens here at once and audits it, with
    /// <paramref name="reason"/>. False (and nothing written) when it was already revoked.
    /// </summary>
    public async Task<bool> RevokeAsync(RefreshLogin login, string reason, IPAddress? address, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (!await store.RevokeFamilyAsync(login.FamilyId, now, cancellationToken))
            return false;
        await FamilyRevokedAsync(login.FamilyId, login.UserId, login.ClientId, now, reason, address, cancellationToken);
        return true;
    }

    /// <summary>
    /// Revokes a family known by its id, as <see cref="RevokeAsync"/> does: the login an authorization code started, when the
    /// code is redeemed again. False when it was already revoked.
    /// </summary>
    public async Task<bool> RevokeByIdAsync(string familyId, string userId, string clientId, string reason, IPAddress? address,
        CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (!await store.RevokeFamilyAsync(familyId, now, cancellationToken))
            return false;
        await FamilyRevokedAsync(familyId, userId, clientId, now, reason, address, cancellationToken);
        return true;
    }

    /// <summary>
    /// Revokes, one by one (each refused on every node with its access tokens, and audited), the live families that began in
    /// a browser sign-in session: its logout ends what the apps got in it. Returns how many.
    /// </summary>
    public async Task<int> RevokeAllOfSessionAsync(string sessionId, string userId, string reason, IPAddress? address, CancellationToken cancellationToken)
    {
        int revoked = 0;
        foreach (LiveFamily family in await store.ListLiveFamiliesOfSessionAsync(sessionId, cancellationToken))
        {
            if (await RevokeByIdAsync(family.FamilyId, userId, family.ClientId, reason, address, cancellationToken))
                revoked++;
        }

        return revoked;
    }

    /// <summary>Revokes a user's live families with one client (consent withdrawn), one by one, and returns how many.</summary>
    public async Task<int> RevokeAllOfUserAndClientAsync(string userId, string clientId, string reason, CancellationToken cancellationToken)
    {
        int revoked = 0;
        foreach (LiveFamily family in await store.ListLiveFamiliesOfUserAndClientAsync(userId, clientId, cancellationToken))
        {
            if (await RevokeByIdAsync(family.FamilyId, userId, clientId, reason, address: null, cancellationToken))
                revoked++;
        }

        return revoked;
    }

    /// <summary>
    /// Revokes every live family of a user whose tokens were cut off at <paramref name="cutOff"/> (disabled, roles or password
    /// changed, logged out), and returns how many. Recorded once, as the user's cut-off, by the caller.
    /// </summary>
    public Task<int> RevokeAllOfUserAsync(string userId, DateTimeOffset cutOff, CancellationToken cancellationToken) =>
        store.RevokeFamiliesOfUserAsync(userId, cutOff, cancellationToken);

    /// <summary>Revokes every live family of a client (disabled or removed), and returns how many. Recorded as the client's cut-off.</summary>
    public Task<int> RevokeAllOfClientAsync(string clientId, DateTimeOffset cutOff, CancellationToken cancellationToken) =>
        store.RevokeFamiliesOfClientAsync(clientId, cutOff, cancellationToken);

    /// <summary>A new token for the login, expiring a sliding lifetime from now but never after the family; stored only by <see cref="RotateAsync"/>.</summary>
    public RefreshSuccessor PrepareSuccessor(RefreshLogin login, string? scope)
    {
        string token = RefreshTokens.Generate();
        return new RefreshSuccessor(token, Record(token, login.Stored.Family, scope, time.GetUtcNow()));
    }

    /// <summary>
    /// Spends the presented token and stores <paramref name="successor"/> in its place, atomically: of concurrent presentations
    /// of one token exactly one rotates. <paramref name="response"/>, the pair that goes with the successor, is kept sealed
    /// under the presented token for the reuse window, so that the same client retrying (two tabs, a lost response) gets that
    /// very pair. Any later presentation revokes the whole family (RFC 9700 §4.14.2).
    /// </summary>
    public async Task<RotationResult> RotateAsync(RefreshLogin login, string presented, RefreshSuccessor successor, TokenResponse response, IPAddress? address,
        CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        RefreshConsumeResult result = await store.TryConsumeRefreshTokenAsync(login.Stored.Token.TokenHash, successor.Record, RefreshTokens.Seal(response, presented),
            now, options.Value.RefreshTokens.ReuseWindow, cancellationToken);
        switch (result.Status)
        {
            case RefreshConsumeStatus.Consumed:
                await DropExpiredSealsAsync(cancellationToken);
                return RotationResult.Rotated;
            case RefreshConsumeStatus.Replayed:
                return RefreshTokens.Unseal(result.SealedSuccessor!, presented) is { } earlier
                    ? RotationResult.Replay(earlier)
                    : RotationResult.Refused("sealed successor did not open");
            case RefreshConsumeStatus.ReuseDetected:
                // The store revoked the family and recorded it for every node, in the same transaction.
                Log.RefreshTokenReuse(logger, login.FamilyId, login.Username ?? login.UserId, login.ClientId);
                metrics.RefreshReuseDetected();
                await audit.WriteAsync(new AuditEvent(now, AuditEvents.RefreshReuseDetected, AuditOutcomes.FamilyRevoked,
                    Subject: login.UserId, ClientId: login.ClientId, Address: address?.ToString(), Detail: $"family {login.FamilyId}"), cancellationToken);
                await FamilyRevokedAsync(login.FamilyId, login.UserId, login.ClientId, now, Reasons.ReuseDetected, address, cancellationToken);
                return RotationResult.Refused("refresh token reused after rotation; family revoked");
            default:
                return RotationResult.Refused($"refresh token {result.Status.ToString().ToLowerInvariant()}");
        }
    }

    /// <summary>What introspection (RFC 7662) may say about a refresh token presented by <paramref name="clientId"/>: null unless it is theirs and live.</summary>
    public async Task<RefreshTokenDescription?> DescribeAsync(string presented, string clientId, CancellationToken cancellationToken)
    {
        if (await FindAsync(presented, cancellationToken) is not { } login || login.ClientId != clientId || !IsLive(login, time.GetUtcNow()))
            return null;
        RefreshTokenRecord token = login.Stored.Token;
        return new RefreshTokenDescription(token.ClientId, token.UserId, token.Scope, token.CreatedAt, token.ExpiresAt);
    }

    /// <summary>Deletes up to <paramref name="limit"/> families past their absolute lifetime, and as many expired tokens; returns how many rows went.</summary>
    public Task<int> PurgeExpiredAsync(DateTimeOffset now, int limit, CancellationToken cancellationToken) =>
        store.PurgeExpiredAsync(now, limit, cancellationToken);

    /// <summary>
    /// Clears one batch of expired sealed successors, unless that was done less than <see cref="SealSweepInterval"/> ago
    /// here and left none behind. Sweeping on every rotation made each one, on PostgreSQL, wade through the index entries
    /// the previous sweeps had left dead; sweeping everything at once held SQLite's write lock long enough to show in p99.
    /// A full batch means more are waiting: the next rotation sweeps again.
    /// </summary>
    public async Task DropExpiredSealsIfDueAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (!_sealSweep.TryEnter(now))
            return;
        if (await store.DropExpiredSealsAsync(now, SealSweepBatch, cancellationToken) == SealSweepBatch)
            _sealSweep.Reopen(now);
    }

    private async Task DropExpiredSealsAsync(CancellationToken cancellationToken)
    {
        // The rotation is committed: a failed sweep must not cost the client its new pair.
        try
        {
            await DropExpiredSealsIfDueAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.SealSweepFailed(logger, e);
        }
    }

    private async Task FamilyRevokedAsync(string familyId, string userId, string clientId, DateTimeOffset at, string reason, IPAddress? address,
        CancellationToken cancellationToken)
    {
        revocations.Apply(Revocation.Of(RevocationKinds.Family, familyId, at));
        await audit.WriteAsync(new AuditEvent(at, AuditEvents.FamilyRevoked, AuditOutcomes.Success, Subject: userId, ClientId: clientId,
            Address: address?.ToString(), Detail: $"family {familyId}: {reason}"), cancellationToken);
    }

    private RefreshTokenRecord Record(string token, RefreshFamilyRecord family, string? scope, DateTimeOffset now)
    {
        DateTimeOffset sliding = now + options.Value.RefreshTokens.SlidingLifetime;
        DateTimeOffset expires = sliding < family.AbsoluteExpiresAt ? sliding : family.AbsoluteExpiresAt;
        return new RefreshTokenRecord(RefreshTokens.Hash(token), family.FamilyId, family.ClientId, family.UserId, scope, now, expires, SpentAt: null);
    }
}

/// <summary>
/// The login a refresh token belongs to, as it stands now: whose it is, for which client and scope, since when, and the user
/// as stored now (no username or roles once removed).
/// </summary>
internal sealed class RefreshLogin
{
    internal RefreshLogin(RefreshTokenLookup stored) => Stored = stored;

    /// <summary>The rows behind it, for <see cref="RefreshTokenFamilies"/> alone.</summary>
    internal RefreshTokenLookup Stored { get; }

    /// <summary>The family's id: the login's <c>sid</c>.</summary>
    public string FamilyId => Stored.Family.FamilyId;

    /// <summary>True once the family has been revoked.</summary>
    public bool Revoked => Stored.Family.RevokedAt is not null;

    public string ClientId => Stored.Token.ClientId;

    public string UserId => Stored.Token.UserId;

    /// <summary>The scope this token carries (RFC 6749 §6: a refresh may only narrow it).</summary>
    public string? Scope => Stored.Token.Scope;

    /// <summary>When the login began: every token of the login is as good as that moment.</summary>
    public DateTimeOffset LoggedInAt => Stored.Family.CreatedAt;

    /// <summary>How the user signed in for this login (<see cref="Protocol.SignInMethods"/>).</summary>
    public IReadOnlyList<string> Amr => Protocol.SignInMethods.Parse(Stored.Family.Amr);

    public string? Username => Stored.User?.Username;

    public IReadOnlyList<string> Roles => Stored.User?.Roles ?? [];

    /// <summary>The user's latest cut-off, if any.</summary>
    public DateTimeOffset? UserTokensValidAfter => Stored.User?.TokensValidAfter;
}

/// <summary>A successor refresh token, prepared before the rotation that stores it.</summary>
internal sealed record RefreshSuccessor(string Token, RefreshTokenRecord Record);

/// <summary>
/// How a rotation went: rotated (the successor is stored), replayed (the same client retried within the window: here is the
/// pair it already got), or refused (with a detail for the log).
/// </summary>
internal sealed record RotationResult(TokenResponse? EarlierResponse, string? Refusal)
{
    public static readonly RotationResult Rotated = new(null, null);

    public static RotationResult Replay(TokenResponse earlier) => new(earlier, null);

    public static RotationResult Refused(string detail) => new(null, detail);
}

/// <summary>A live refresh token, as introspection describes it.</summary>
internal sealed record RefreshTokenDescription(string ClientId, string UserId, string? Scope, DateTimeOffset IssuedAt, DateTimeOffset ExpiresAt);

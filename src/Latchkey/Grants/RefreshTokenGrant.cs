using Latchkey.Audit;
using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Storage;
using Latchkey.Tokens;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Grants;

/// <summary>
/// The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2). Each use spends the
/// presented token and returns a new access + refresh pair carrying the user's current roles. A retry by the same
/// client within the reuse window gets the very same pair; any later reuse revokes the whole family.
/// </summary>
internal sealed class RefreshTokenGrant(
    IRefreshTokenStore store,
    RefreshTokens refreshTokens,
    AccessTokenIssuer issuer,
    Revocations revocations,
    ClientAuthenticator clients,
    AuditTrail audit,
    IOptions<LatchkeyOptions> options,
    TimeProvider time,
    LatchkeyMetrics metrics,
    ILogger<RefreshTokenGrant> logger)
{
    private static OAuthError Invalid(string detail) =>
        new(OAuthErrors.InvalidGrant, "The refresh token is invalid, expired or revoked.") { Detail = detail };

    public async Task<GrantResult> HandleAsync(TokenRequest request, Client client, IReadOnlyList<string> requestedScopes, CancellationToken cancellationToken)
    {
        // 1. Find the token. Malformed, unknown and foreign tokens change nothing.
        string? presented = request.RefreshToken;
        if (presented is null)
            return OAuthError.InvalidRequest("The refresh_token grant needs refresh_token.");
        if (!RefreshTokens.HasValidShape(presented))
            return Invalid("malformed refresh token");
        string hash = RefreshTokens.Hash(presented);
        RefreshTokenLookup? found = await store.FindAsync(hash, cancellationToken);
        if (found is null)
            return Invalid("unknown refresh token");
        // RFC 6749 §6: a refresh token is bound to the client it was issued to.
        if (found.Token.ClientId != client.ClientId)
            return Invalid($"refresh token of client '{found.Token.ClientId}' presented by '{client.ClientId}'");
        if (found.Family.RevokedAt is not null)
            return Invalid("refresh token family revoked");

        // 2. Scope may only narrow (§6).
        IReadOnlyList<string> original = Scopes.Parse(found.Token.Scope) ?? [];
        if (requestedScopes.Any(s => !original.Contains(s)))
            return new OAuthError(OAuthErrors.InvalidScope, "The requested scope exceeds the scope originally granted.");

        // 3. The user as they are now: a user removed, disabled, or whose tokens were cut off since this login (a password or
        // role change, a logout) loses the whole family; roles are current.
        // The client's cut-off counts too (disabled or removed since, then enabled again): this node's copy of the revocations.
        UserRecord? user = found.User;
        if (user is null || user.Disabled || user.PasswordChangedAt > found.Family.CreatedAt || user.TokensValidAfter >= found.Family.CreatedAt ||
            revocations.ClientCutOff(client.ClientId) >= found.Family.CreatedAt.ToUnixTimeMilliseconds())
        {
            if (await store.RevokeFamilyAsync(found.Family.FamilyId, time.GetUtcNow(), cancellationToken))
            {
                revocations.Apply(Revocation.Of(RevocationKinds.Family, found.Family.FamilyId, time.GetUtcNow()));
                await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.FamilyRevoked, "success", Subject: user?.Username ?? found.Token.UserId,
                    ClientId: client.ClientId, Address: request.ClientAddress?.ToString(),
                    Detail: $"family {found.Family.FamilyId}: user disabled, removed or re-passworded"), cancellationToken);
            }

            return Invalid("the user is disabled or removed, or the user's or the client's tokens were cut off since this login");
        }

        // Only what the client and the user may still have: a scope removed from the client since the login, or the admin
        // scope of a user who is no longer an admin, is dropped rather than carried on.
        // With a shared HMAC secret no admin token is issued at all, not even to a login that began before the switch.
        bool adminAllowed = user.Roles.Contains(Accounts.Roles.Admin) && !JwtAlgorithms.IsHmac(options.Value.SigningAlgorithm);
        IReadOnlyList<string> scopes = (requestedScopes.Count > 0 ? requestedScopes : original)
            .Where(s => client.AllowedScopes.Contains(s) && (s != Scopes.Admin || adminAllowed))
            .ToArray();
        string? scope = scopes.Count > 0 ? string.Join(' ', scopes) : null;

        // 4. Prepare the successor pair, then spend the token atomically. Only one caller's successor is stored.
        RefreshTokenRecord successor = refreshTokens.Successor(found.Family, scope, out string successorToken);
        // A refreshed token is as good as its login: its authority dates from when the login began (or the client's record
        // was read, if that is older), so a later cut-off refuses every token of the login however recently it was refreshed.
        // A client record cached before the user's last cut-off is read again, or the token would look as old as that.
        if (user.TokensValidAfter is { } cutOff)
        {
            if (await clients.ConfirmAsync(client, cutOff, cancellationToken) is not { } confirmed)
                return ClientAuthenticator.InvalidClient($"client '{client.ClientId}' is gone or disabled", challenge: false);
            client = confirmed;
        }

        DateTimeOffset authorizedAt = found.Family.CreatedAt < client.ReadAt ? found.Family.CreatedAt : client.ReadAt;
        IssuedAccessToken access = issuer.Issue(new AccessTokenSubject(user.Id, user.Username, user.Roles, scope, client.ClientId, client.Audience,
            found.Family.FamilyId, authorizedAt));
        var response = new TokenResponse { AccessToken = access.Token, ExpiresIn = access.ExpiresIn, Scope = scope, RefreshToken = successorToken };
        RefreshConsumeResult result = await store.TryConsumeRefreshTokenAsync(hash, successor, RefreshTokens.Seal(response, presented),
            time.GetUtcNow(), options.Value.RefreshTokens.ReuseWindow, cancellationToken);

        switch (result.Status)
        {
            case RefreshConsumeStatus.Consumed:
                Log.TokenIssued(logger, access.JwtId, user.Id, GrantTypes.RefreshToken);
                metrics.TokenIssued(GrantTypes.RefreshToken, access.Algorithm);
                await DropExpiredSealsAsync(cancellationToken);
                return response;
            case RefreshConsumeStatus.Replayed:
                // The same client retrying within the window (two tabs, a lost response): the pair it already got.
                return RefreshTokens.Unseal(result.SealedSuccessor!, presented) is { } earlier ? earlier : Invalid("sealed successor did not open");
            case RefreshConsumeStatus.ReuseDetected:
                // The store revoked the family and recorded it for every node; here, its access tokens are refused at once.
                revocations.Apply(Revocation.Of(RevocationKinds.Family, result.FamilyId!, time.GetUtcNow()));
                Log.RefreshTokenReuse(logger, result.FamilyId!, user.Username, client.ClientId);
                metrics.RefreshReuseDetected();
                await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.RefreshReuseDetected, "family_revoked",
                    Subject: user.Id, ClientId: client.ClientId, Address: request.ClientAddress?.ToString(), Detail: $"family {result.FamilyId}"), cancellationToken);
                await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.FamilyRevoked, "success",
                    Subject: user.Id, ClientId: client.ClientId, Address: request.ClientAddress?.ToString(), Detail: $"family {result.FamilyId}: reuse detected"), cancellationToken);
                return Invalid("refresh token reused after rotation; family revoked");
            default:
                return Invalid($"refresh token {result.Status.ToString().ToLowerInvariant()}");
        }
    }

    private async Task DropExpiredSealsAsync(CancellationToken cancellationToken)
    {
        // The rotation is committed: a failed sweep must not cost the client its new pair.
        try
        {
            await refreshTokens.DropExpiredSealsIfDueAsync(cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            Log.SealSweepFailed(logger, e);
        }
    }
}

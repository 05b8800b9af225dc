using Latchkey.Accounts;
using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Tokens;
using Microsoft.Extensions.Options;

namespace Latchkey.Grants;

/// <summary>
/// The refresh token grant (RFC 6749 §6) with rotation and reuse detection (RFC 9700 §4.14.2). Each use spends the
/// presented token and returns a new access + refresh pair carrying the user's current roles (<see cref="TokenMint"/>
/// rotates, through <see cref="RefreshTokenFamilies"/>). A retry by the same client within the reuse window gets the very
/// same pair; any later reuse revokes the whole family.
/// </summary>
internal sealed class RefreshTokenGrant(RefreshTokenFamilies families, IOptions<LatchkeyOptions> options) : IGrant
{
    /// <summary>The one answer for every refresh token that cannot be used, whatever the reason (which goes to the log).</summary>
    public static OAuthError Invalid(string detail) =>
        new(OAuthErrors.InvalidGrant, "The refresh token is invalid, expired or revoked.") { Detail = detail };

    public async Task<GrantDecision> DecideAsync(TokenRequest request, Client client, IReadOnlyList<string> scopes, CancellationToken cancellationToken)
    {
        // 1. Find the login. Malformed, unknown and foreign tokens change nothing.
        if (request.RefreshToken is not { } presented)
            return OAuthError.InvalidRequest("The refresh_token grant needs refresh_token.");
        if (await families.FindAsync(presented, cancellationToken) is not { } login)
            return Invalid("malformed or unknown refresh token");
        // RFC 6749 §6: a refresh token is bound to the client it was issued to.
        if (login.ClientId != client.ClientId)
            return Invalid($"refresh token of client '{login.ClientId}' presented by '{client.ClientId}'");

        // 2. Scope may only narrow (§6).
        IReadOnlyList<string> original = Scopes.Parse(login.Scope) ?? [];
        if (scopes.Any(s => !original.Contains(s)))
            return new OAuthError(OAuthErrors.InvalidScope, "The requested scope exceeds the scope originally granted.");

        // 3. The login must still stand: a user removed, disabled, or whose tokens were cut off since it began (a password or
        // role change, a logout), or a client cut off since, loses the whole family.
        if (families.WhyEnded(login) is { } ended)
        {
            if (!login.Revoked)
                await families.RevokeAsync(login, ended, request.ClientAddress, cancellationToken);
            return Invalid(ended);
        }

        // 4. Only what the client and the user may still have: a scope removed from the client since the login, or the admin
        // scope of a user who is no longer an admin, is dropped rather than carried on. With a shared HMAC secret no admin
        // token is issued at all, not even to a login that began before the switch. Roles are the user's current ones.
        bool adminAllowed = login.Roles.Contains(Roles.Admin) && !JwtAlgorithms.IsHmac(options.Value.SigningAlgorithm);
        string[] kept = (scopes.Count > 0 ? scopes : original)
            .Where(s => (client.AllowedScopes.Contains(s) || (Scopes.OpenIdConnect.Contains(s) && client.MayUse(GrantTypes.AuthorizationCode))) &&
                        (s != Scopes.Admin || adminAllowed))
            .ToArray();

        // 5. A refreshed token is as good as its login: its authority dates from when the login began, so a later cut-off
        // refuses every token of the login however recently it was refreshed.
        // A browser login that was not given the profile scope does not get the username on refresh either.
        string? username = kept.Contains(Scopes.OpenId) && !kept.Contains(Scopes.Profile) ? null : login.Username;
        return new TokenGrant(GrantTypes.RefreshToken, client, login.UserId, username, login.Roles, Scopes.Join(kept),
            new RefreshPlan.Rotate(login, presented))
        {
            LoggedInAt = login.LoggedInAt,
            UserCutOff = login.UserTokensValidAfter,
            Amr = login.Amr,
        };
    }
}

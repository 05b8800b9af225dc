using Latchkey.Accounts;
using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Tokens;
using Microsoft.Extensions.Logging;

namespace Latchkey.Grants;

/// <summary>
/// The resource owner password credentials grant (RFC 6749 §4.3). RFC 9700 §2.4 advises against it for third-party
/// clients; Latchkey allows it per client (the built-in first-party client has it) and throttles it, as §4.3.2 requires.
/// A client that may also use <c>refresh_token</c> gets a refresh token, starting a new family.
/// </summary>
internal sealed class PasswordGrant(PasswordLogin login, ClientAuthenticator clients, AccessTokenIssuer issuer, RefreshTokens refreshTokens, LatchkeyMetrics metrics,
    ILogger<PasswordGrant> logger)
{
    public async Task<GrantResult> HandleAsync(TokenRequest request, Client client, string? scope, CancellationToken cancellationToken)
    {
        if (request.Username is null || request.Password is null)
            return OAuthError.InvalidRequest("The password grant needs username and password.");
        // No account can have such a name or password, so refusing them here reveals nothing and saves a hash.
        if (request.Username.Length > Usernames.MaximumLength)
            return OAuthError.InvalidRequest($"The username is longer than {Usernames.MaximumLength} characters.");
        if (request.Password.Length > PasswordHasher.MaximumPasswordLength)
            return OAuthError.InvalidRequest($"The password is longer than {PasswordHasher.MaximumPasswordLength} characters.");

        LoginResult result = await login.LoginAsync(request.Username, request.Password, request.ClientAddress, client.ClientId, cancellationToken);
        if (result.IsBusy)
            return OAuthError.Busy(result.RetryAfter!.Value, "password hashing at capacity");
        if (result.RetryAfter is { } wait)
            return OAuthError.Throttled(wait, "login throttled");
        if (result.User is not { } user)
            return OAuthError.InvalidCredentials(result.FailureReason!);
        // The password was right, so saying that this account may not have the admin scope reveals nothing new.
        if (Scopes.IncludesAdmin(scope) && !user.Roles.Contains(Roles.Admin))
            return new OAuthError(OAuthErrors.InvalidScope, "The requested scope is not allowed.") { Detail = $"{Scopes.Admin} for '{user.Username}', who is not an admin" };

        // The login is as good as the older of what it rests on: the account read when it began, the client's record. A
        // client record cached before the user's last cut-off would make it look as old as that: read it again then.
        if (user.TokensValidAfter is { } cutOff)
        {
            if (await clients.ConfirmAsync(client, cutOff, cancellationToken) is not { } confirmed)
                return ClientAuthenticator.InvalidClient($"client '{client.ClientId}' is gone or disabled", challenge: false);
            client = confirmed;
        }

        DateTimeOffset authorizedAt = result.AuthenticatedAt < client.ReadAt ? result.AuthenticatedAt : client.ReadAt;
        // A client that may refresh starts a login (a refresh family) whose id its access tokens carry as sid.
        (string Token, string FamilyId)? started = client.MayUse(GrantTypes.RefreshToken)
            ? await refreshTokens.StartFamilyAsync(user.Id, client.ClientId, scope, authorizedAt, cancellationToken)
            : null;
        IssuedAccessToken token = issuer.Issue(new AccessTokenSubject(user.Id, user.Username, user.Roles, scope, client.ClientId, client.Audience,
            started?.FamilyId, authorizedAt));
        string? refreshToken = started?.Token;
        Log.TokenIssued(logger, token.JwtId, user.Id, GrantTypes.Password);
        metrics.TokenIssued(GrantTypes.Password, token.Algorithm);
        return new TokenResponse { AccessToken = token.Token, ExpiresIn = token.ExpiresIn, Scope = scope, RefreshToken = refreshToken };
    }
}

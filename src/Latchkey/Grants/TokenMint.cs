using System.Net;
using Latchkey.Clients;
using Latchkey.Diagnostics;
using Latchkey.Protocol;
using Latchkey.Tokens;
using Microsoft.Extensions.Logging;

namespace Latchkey.Grants;

/// <summary>
/// The one place tokens are made, whatever the grant: it settles what the tokens rest on, starts or rotates the login's
/// refresh tokens, signs the access token, logs it, counts it and builds the response (RFC 6749 §5.1).
/// </summary>
internal sealed class TokenMint(ClientAuthenticator clients, AccessTokenIssuer issuer, IdTokenIssuer idTokens, RefreshTokenFamilies families,
    LatchkeyMetrics metrics, TimeProvider time, ILogger<TokenMint> logger)
{
    public async Task<GrantResult> MintAsync(TokenGrant grant, IPAddress? address, CancellationToken cancellationToken)
    {
        // 1. The tokens are as good as the older of what they rest on: the login (when it began) and the client's record (when
        // it was read). A client record cached before the user's last cut-off would make them look as old as that: read it again.
        Client client = grant.Client;
        if (grant.UserCutOff is { } cutOff)
        {
            if (await clients.ConfirmAsync(client, cutOff, cancellationToken) is not { } confirmed)
                return ClientAuthenticator.InvalidClient($"client '{client.ClientId}' is gone or disabled", challenge: false);
            client = confirmed;
        }

        DateTimeOffset authorizedAt = grant.LoggedInAt is { } began && began < client.ReadAt ? began : client.ReadAt;

        // 2. The refresh token: a new login's first (its family id is the access token's sid), a refresh's successor, or none.
        string? refreshToken = null;
        string? sessionId = null;
        RefreshSuccessor? successor = null;
        var rotation = grant.Refresh as RefreshPlan.Rotate;
        if (grant.Refresh == RefreshPlan.StartLogin)
        {
            (refreshToken, sessionId) = await families.StartAsync(grant.Subject, client.ClientId, grant.Scope, authorizedAt, cancellationToken,
                grant.SignInSessionId, Protocol.SignInMethods.Format(grant.Amr ?? [Protocol.SignInMethods.Password]));
        }
        else if (rotation is not null)
        {
            successor = families.PrepareSuccessor(rotation.Login, grant.Scope);
            (refreshToken, sessionId) = (successor.Token, rotation.Login.FamilyId);
        }

        // 3. The access token, and the id token that comes with it when the scope has openid.
        IssuedAccessToken access = issuer.Issue(new AccessTokenSubject(grant.Subject, grant.Username, grant.Roles, grant.Scope, client.ClientId, client.Audience,
            sessionId, authorizedAt)
        {
            AuthTime = grant.Amr is null ? null : grant.LoggedInAt,
            Acr = grant.Amr is { } methods ? Protocol.AuthenticationLevels.Of(methods) : null,
        });
        string? idToken = grant.IdToken is { } id
            ? idTokens.Issue(new IdTokenSubject(grant.Subject, grant.Username, client.ClientId, id.SessionId, id.AuthTime, id.Nonce, grant.Scope, access.Token)
            {
                Name = id.Name,
                Email = id.Email,
                EmailVerified = id.EmailVerified,
                Algorithm = client.IdTokenAlgorithm,
                Amr = grant.Amr ?? [Protocol.SignInMethods.Password],
            })
            : null;
        var response = new TokenResponse
        {
            AccessToken = access.Token,
            ExpiresIn = access.ExpiresIn,
            Scope = grant.Scope,
            RefreshToken = refreshToken,
            IdToken = idToken,
        };

        // 4. A refresh commits its rotation only now, with this response sealed for a retry within the reuse window.
        if (rotation is not null)
        {
            RotationResult rotated = await families.RotateAsync(rotation.Login, rotation.Presented, successor!, response, address, cancellationToken);
            if (rotated.EarlierResponse is { } earlier)
                return earlier;
            if (rotated.Refusal is { } refusal)
                return RefreshTokenGrant.Invalid(refusal);
        }

        // 5. Tell the grant what was issued, if it keeps track (a code, to revoke it all on a replay); then log and count it.
        if (grant.OnIssued is { } onIssued)
            await onIssued(new IssuedTokens(sessionId, access.JwtId, time.GetUtcNow() + TimeSpan.FromSeconds(access.ExpiresIn) + Jose.JwsVerifier.Leeway),
                cancellationToken);
        Log.TokenIssued(logger, access.JwtId, grant.Subject, grant.GrantType);
        metrics.TokenIssued(grant.GrantType, access.Algorithm);
        return response;
    }
}

using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Tokens;
using Microsoft.Extensions.Logging;

namespace Latchkey.Grants;

/// <summary>
/// The client credentials grant (RFC 6749 §4.4): a service authenticates as itself. The token's <c>sub</c> is the
/// <c>client_id</c>, its <c>aud</c> the client's audience; there is no refresh token (§4.4.3: the client can simply
/// authenticate again).
/// </summary>
internal sealed class ClientCredentialsGrant(AccessTokenIssuer issuer, LatchkeyMetrics metrics, ILogger<ClientCredentialsGrant> logger)
{
    public GrantResult Handle(Client client, string? scope)
    {
        // As good as the client's record when it was read: a cut-off of the client after that refuses the token.
        IssuedAccessToken token = issuer.Issue(new AccessTokenSubject(client.ClientId, Username: null, Roles: [], scope, client.ClientId, client.Audience,
            AuthorizedAt: client.ReadAt));
        Log.TokenIssued(logger, token.JwtId, client.ClientId, GrantTypes.ClientCredentials);
        metrics.TokenIssued(GrantTypes.ClientCredentials, token.Algorithm);
        return new TokenResponse { AccessToken = token.Token, ExpiresIn = token.ExpiresIn, Scope = scope };
    }
}

using Latchkey.Clients;
using Latchkey.Protocol;

namespace Latchkey.Grants;

/// <summary>
/// The client credentials grant (RFC 6749 §4.4): a service authenticates as itself. The token's <c>sub</c> is the
/// <c>client_id</c>, its <c>aud</c> the client's audience; there is no refresh token (§4.4.3: the client can simply
/// authenticate again). The token is as good as the client's record when it was read: a cut-off of the client after that refuses it.
/// </summary>
internal sealed class ClientCredentialsGrant : IGrant
{
    public Task<GrantDecision> DecideAsync(TokenRequest request, Client client, IReadOnlyList<string> scopes, CancellationToken cancellationToken) =>
        Task.FromResult<GrantDecision>(new TokenGrant(GrantTypes.ClientCredentials, client, client.ClientId, Username: null, Roles: [], Scopes.Join(scopes),
            RefreshPlan.None));
}

using Latchkey.Clients;

namespace Latchkey.Grants;

/// <summary>
/// A grant type (RFC 6749 §1.3): proves who is asking, and decides what they get. By the time a grant runs, the token
/// endpoint has parsed the request, authenticated the client, checked that it may use this grant type and that every
/// scope it asks for is one it may have; <see cref="TokenMint"/> turns the decision into tokens. A new grant is one file
/// implementing this, and one line in <c>TokenEndpoint</c>'s dispatch.
/// </summary>
internal interface IGrant
{
    Task<GrantDecision> DecideAsync(TokenRequest request, Client client, IReadOnlyList<string> scopes, CancellationToken cancellationToken);
}

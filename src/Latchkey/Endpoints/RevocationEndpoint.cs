using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Tokens;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>
/// <c>POST /revoke</c> (RFC 7009). A refresh token revokes its whole family, and with it (§2.1) the access tokens of that
/// login, whose <c>sid</c> is the family; an access token's <c>jti</c> is revoked until it expires. Latchkey refuses them
/// at once on this node, and on every other within <see cref="LatchkeyOptions.RevocationRefreshInterval"/>. A client revokes only its own tokens; first-party tokens can be revoked by whoever
/// holds them, with no client credentials. The answer is 200 whatever the token was (§2.2), so it reveals nothing.
/// </summary>
internal static class RevocationEndpoint
{
    public static IEndpointConventionBuilder MapRevocationEndpoint(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/revoke", HandleAsync).DisableAntiforgery().WithName("Revoke").WithSummary("Revoke a refresh or access token (RFC 7009).")
            .AddOpenApiOperationTransformer(ApiDocs.TokenManagementFormAsync)
            .Produces<OAuthErrorBody>(StatusCodes.Status401Unauthorized);

    private static async Task<Results<Ok, OAuthErrorHttpResult>> HandleAsync(
        HttpContext http, ClientAuthenticator clients, TokenRevocation revocation, IOptions<LatchkeyOptions> options, CancellationToken cancellationToken)
    {
        OAuthResults.NoStore(http.Response);
        (TokenManagementRequest? request, OAuthError? error) =
            await TokenManagementRequest.ReadAsync(http.Request, clients, options.Value.MaxTokenRequestBytes, cancellationToken);
        if (request is null)
            return OAuthResults.Error(error!);

        await revocation.RevokeAsync(request.Token, request.Client.ClientId, http.Connection.RemoteIpAddress, cancellationToken);
        return TypedResults.Ok();
    }
}

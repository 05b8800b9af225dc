using Latchkey.Audit;
using Latchkey.Protocol;
using Latchkey.Storage;
using Latchkey.Tokens;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Latchkey.Clients;

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
        HttpContext http, ClientAuthenticator clients, IRefreshTokenStore refreshTokens, Revocations revocations,
        AccessTokenValidator validator, AuditTrail audit, IOptions<LatchkeyOptions> options, TimeProvider time,
        ILoggerFactory loggers, CancellationToken cancellationToken)
    {
        OAuthResults.NoStore(http.Response);
        (TokenManagementRequest? request, OAuthError? error) =
            await TokenManagementRequest.ReadAsync(http.Request, clients, options.Value.MaxTokenRequestBytes, cancellationToken);
        if (request is null)
            return OAuthResults.Error(error!);

        ILogger logger = loggers.CreateLogger("Latchkey.Revocation");
        string clientId = request.Client.ClientId;
        // The hint only says where to look first (§2.1); the token's shape says what it is.
        if (RefreshTokens.HasValidShape(request.Token))
        {
            RefreshTokenLookup? found = await refreshTokens.FindAsync(RefreshTokens.Hash(request.Token), cancellationToken);
            if (found is not null && found.Token.ClientId == clientId &&
                await refreshTokens.RevokeFamilyAsync(found.Family.FamilyId, time.GetUtcNow(), cancellationToken))
            {
                revocations.Apply(Revocation.Of(RevocationKinds.Family, found.Family.FamilyId, time.GetUtcNow()));
                Log.TokenRevoked(logger, "refresh token family " + found.Family.FamilyId, clientId);
                await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.TokenRevoked, "success", Subject: found.Token.UserId,
                    ClientId: clientId, Address: http.Connection.RemoteIpAddress?.ToString(), Detail: "refresh family " + found.Family.FamilyId), cancellationToken);
                await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.FamilyRevoked, "success", Subject: found.Token.UserId,
                    ClientId: clientId, Address: http.Connection.RemoteIpAddress?.ToString(), Detail: $"family {found.Family.FamilyId}: revoked by the client"), cancellationToken);
            }
        }
        else
        {
            try
            {
                // Only our own, unexpired tokens: anything else is already worthless, and must not fill the deny list.
                var claims = validator.VerifyOffline(request.Token, anyAudience: true);
                string jti = claims.GetProperty(LatchkeyClaims.JwtId).GetString()!;
                if (claims.TryGetProperty(LatchkeyClaims.ClientId, out var tokenClient) && tokenClient.GetString() == clientId)
                {
                    var expires = DateTimeOffset.FromUnixTimeSeconds(claims.GetProperty(LatchkeyClaims.Expires).GetInt64()) + AccessTokenValidator.Leeway;
                    await revocations.RevokeAccessTokenAsync(jti, expires, cancellationToken);
                    Log.TokenRevoked(logger, "access token " + jti, clientId);
                    await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.TokenRevoked, "success", Subject: claims.GetProperty(LatchkeyClaims.Subject).GetString(),
                        ClientId: clientId, Address: http.Connection.RemoteIpAddress?.ToString(), Detail: "access token " + jti), cancellationToken);
                }
            }
            catch (JwtException)
            {
                // Not a valid token of ours: nothing to revoke, and §2.2 says answer 200 all the same.
            }
        }

        return TypedResults.Ok();
    }
}

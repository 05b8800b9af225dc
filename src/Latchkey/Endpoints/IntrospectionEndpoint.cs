using System.Text.Json;
using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Tokens;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>
/// <c>POST /introspect</c> (RFC 7662), for confidential clients registered with the permission (<c>--introspect</c>).
/// An access token is described to such a client whatever its audience (a resource server checking a caller's token), or
/// only for the client's own audience when its permission says so; a refresh token only to the client it belongs to.
/// Anything invalid, expired, revoked, taken back (a logout, a user's or client's cut-off, a revoked key), unknown or not
/// yours is <c>{"active": false}</c>.
/// </summary>
internal static class IntrospectionEndpoint
{
    private static readonly byte[] Inactive = """{"active":false}"""u8.ToArray();

    public static IEndpointConventionBuilder MapIntrospectionEndpoint(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/introspect", HandleAsync).DisableAntiforgery().WithName("Introspect").WithSummary("Describe a token (RFC 7662).")
            .AddOpenApiOperationTransformer(ApiDocs.TokenManagementFormAsync)
            .Produces(StatusCodes.Status200OK, contentType: "application/json")
            .Produces<OAuthErrorBody>(StatusCodes.Status401Unauthorized)
            .Produces<OAuthErrorBody>(StatusCodes.Status403Forbidden);

    private static async Task<Results<FileContentHttpResult, OAuthErrorHttpResult>> HandleAsync(
        HttpContext http, ClientAuthenticator clients, RefreshTokenFamilies families, AccessTokenValidator validator,
        IOptions<LatchkeyOptions> options, CancellationToken cancellationToken)
    {
        OAuthResults.NoStore(http.Response);
        (TokenManagementRequest? request, OAuthError? error) =
            await TokenManagementRequest.ReadAsync(http.Request, clients, options.Value.MaxTokenRequestBytes, cancellationToken);
        if (request is null)
            return OAuthResults.Error(error!);
        // RFC 7662 §2.1: the endpoint must be protected; the public first-party client has no credentials to show.
        if (request.Client.IsPublic)
            return OAuthResults.Error(ClientAuthenticator.InvalidClient("introspection needs client authentication", challenge: true));
        // What a token says about its user is for the resource servers an admin chose, not for any client with a secret.
        if (!request.Client.MayIntrospect)
        {
            return OAuthResults.Error(new OAuthError(OAuthErrors.UnauthorizedClient, "This client may not introspect tokens.", StatusCodes.Status403Forbidden)
            {
                Detail = $"client '{request.Client.ClientId}' has no introspection permission",
            });
        }

        byte[] body = RefreshTokens.HasValidShape(request.Token)
            ? await DescribeRefreshTokenAsync(request, families, cancellationToken)
            : DescribeAccessToken(request, validator, options.Value);
        return TypedResults.Bytes(body, "application/json");
    }

    private static byte[] DescribeAccessToken(TokenManagementRequest request, AccessTokenValidator validator, LatchkeyOptions options)
    {
        JsonElement claims;
        try
        {
            claims = validator.Validate(request.Token, anyAudience: true);
        }
        catch (JwtException)
        {
            return Inactive;
        }

        if (request.Client.Introspection == IntrospectionPermission.OwnAudience &&
            !AccessTokenValidator.HasAudience(claims, request.Client.Audience ?? options.Audience))
            return Inactive;

        var response = new Dictionary<string, JsonElement>
        {
            ["active"] = JsonSerializer.SerializeToElement(true, LatchkeyJsonContext.Default.Boolean),
            // RFC 7662 §2.2: the token's type as RFC 6749 §5.1 names it.
            ["token_type"] = JsonSerializer.SerializeToElement("Bearer", LatchkeyJsonContext.Default.String),
        };
        foreach (JsonProperty claim in claims.EnumerateObject())
            response[claim.Name] = claim.Value;
        if (claims.TryGetProperty(LatchkeyClaims.PreferredUsername, out JsonElement username))
            response["username"] = username;
        return JsonSerializer.SerializeToUtf8Bytes(response, LatchkeyJsonContext.Default.DictionaryStringJsonElement);
    }

    private static async Task<byte[]> DescribeRefreshTokenAsync(TokenManagementRequest request, RefreshTokenFamilies families, CancellationToken cancellationToken)
    {
        if (await families.DescribeAsync(request.Token, request.Client.ClientId, cancellationToken) is not { } token)
            return Inactive;

        var response = new Dictionary<string, JsonElement>
        {
            ["active"] = JsonSerializer.SerializeToElement(true, LatchkeyJsonContext.Default.Boolean),
            ["token_type"] = JsonSerializer.SerializeToElement("refresh_token", LatchkeyJsonContext.Default.String),
            ["client_id"] = JsonSerializer.SerializeToElement(token.ClientId, LatchkeyJsonContext.Default.String),
            ["sub"] = JsonSerializer.SerializeToElement(token.UserId, LatchkeyJsonContext.Default.String),
            ["iat"] = JsonSerializer.SerializeToElement(token.IssuedAt.ToUnixTimeSeconds(), LatchkeyJsonContext.Default.Int64),
            ["exp"] = JsonSerializer.SerializeToElement(token.ExpiresAt.ToUnixTimeSeconds(), LatchkeyJsonContext.Default.Int64),
        };
        if (token.Scope is not null)
            response["scope"] = JsonSerializer.SerializeToElement(token.Scope, LatchkeyJsonContext.Default.String);
        return JsonSerializer.SerializeToUtf8Bytes(response, LatchkeyJsonContext.Default.DictionaryStringJsonElement);
    }
}

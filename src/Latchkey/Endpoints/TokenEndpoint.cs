using Latchkey.Clients;
using Latchkey.Grants;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary><c>POST /token</c>, the OAuth 2.0 token endpoint (RFC 6749 §3.2).</summary>
internal static class TokenEndpoint
{
    public static IEndpointConventionBuilder MapTokenEndpoint(this IEndpointRouteBuilder routes) =>
        routes.MapPost("/token", HandleAsync)
            .DisableAntiforgery()
            .WithName("Token")
            .WithSummary("Exchange credentials for an access token (RFC 6749).");

    /// <summary>
    /// Every token request goes through the same steps, in this order. Shared security checks live here, so a grant
    /// only does what is unique to it and cannot skip one.
    /// </summary>
    private static async Task<Results<TokenHttpResult, OAuthErrorHttpResult>> HandleAsync(
        HttpRequest http, ClientAuthenticator clients, PasswordGrant password, IOptions<LatchkeyOptions> options, CancellationToken cancellationToken)
    {
        // 1. Parse the form once: size, media type, UTF-8, no repeated parameters.
        (TokenRequest? request, OAuthError? error) = await TokenRequest.ReadAsync(http, options.Value.MaxTokenRequestBytes, cancellationToken);
        if (request is null)
            return OAuthResults.Error(error!);

        // 2. Authenticate the client.
        (Client? client, error) = clients.Authenticate(request, http.Headers.Authorization);
        if (client is null)
            return OAuthResults.Error(error!);

        // 3. The grant type must exist, and this client must be allowed to use it.
        if (request.GrantType is not (GrantTypes.Password or GrantTypes.ClientCredentials or GrantTypes.RefreshToken or GrantTypes.AuthorizationCode))
            return OAuthResults.Error(new OAuthError(OAuthErrors.UnsupportedGrantType, "The grant_type is not supported.") { Detail = "grant_type is unknown" });
        if (!client.AllowedGrantTypes.Contains(request.GrantType))
            return OAuthResults.Error(new OAuthError(OAuthErrors.UnsupportedGrantType, "The grant_type is not supported.")
            {
                Detail = $"client '{client.ClientId}' may not use {request.GrantType}",
            });

        // 4. Every requested scope must be one the client may ask for (RFC 6749 §3.3).
        if (request.Scopes.FirstOrDefault(s => !client.AllowedScopes.Contains(s)) is { } unknownScope)
            return OAuthResults.Error(new OAuthError(OAuthErrors.InvalidScope, "The requested scope is not allowed.") { Detail = $"scope '{unknownScope}'" });

        // 5. Let the grant prove the identity and produce the tokens.
        GrantResult result = request.GrantType switch
        {
            GrantTypes.Password => await password.HandleAsync(request, client, cancellationToken),
            _ => new OAuthError(OAuthErrors.UnsupportedGrantType, "The grant_type is not supported."),
        };

        // 6. Write the response.
        return result.Response is { } response ? OAuthResults.Token(response) : OAuthResults.Error(result.Error!);
    }
}

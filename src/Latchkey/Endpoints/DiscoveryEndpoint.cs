using Latchkey.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>Authorization server metadata (RFC 8414), also served as OpenID Connect discovery for verifiers that look there.</summary>
internal sealed record DiscoveryDocument(
    string Issuer,
    string TokenEndpoint,
    string JwksUri,
    string UserinfoEndpoint,
    string RevocationEndpoint,
    string IntrospectionEndpoint,
    string[] GrantTypesSupported,
    string[] TokenEndpointAuthMethodsSupported,
    string[] RevocationEndpointAuthMethodsSupported,
    string[] IntrospectionEndpointAuthMethodsSupported,
    string[] ScopesSupported,
    string[] ResponseTypesSupported,
    string[] SubjectTypesSupported,
    string[] AccessTokenSigningAlgValuesSupported);

internal static class DiscoveryEndpoint
{
    public static void MapDiscoveryEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapGet("/.well-known/oauth-authorization-server", Handle).WithName("AuthorizationServerMetadata")
            .WithSummary("Where Latchkey's endpoints are and what they support (RFC 8414).");
        routes.MapGet("/.well-known/openid-configuration", Handle).WithName("OpenIdConfiguration")
            .WithSummary("The same metadata at the OpenID Connect Discovery path.");
    }

    private static JsonHttpResult<DiscoveryDocument> Handle(IOptions<LatchkeyOptions> options)
    {
        LatchkeyOptions o = options.Value;
        string issuer = o.Issuer!.TrimEnd('/');
        return TypedResults.Json(new DiscoveryDocument(
            Issuer: o.Issuer!,
            TokenEndpoint: issuer + "/token",
            JwksUri: issuer + "/.well-known/jwks.json",
            UserinfoEndpoint: issuer + "/userinfo",
            RevocationEndpoint: issuer + "/revoke",
            IntrospectionEndpoint: issuer + "/introspect",
            GrantTypesSupported: o.PasswordGrant.Enabled
                ? [GrantTypes.Password, GrantTypes.ClientCredentials, GrantTypes.RefreshToken]
                : [GrantTypes.ClientCredentials, GrantTypes.RefreshToken],
            TokenEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "none"],
            RevocationEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "none"],
            IntrospectionEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post"],
            ScopesSupported: [.. o.Scopes.Where(s => s != Scopes.Admin), Scopes.Admin],
            // No authorization endpoint: Latchkey issues tokens at the token endpoint only.
            ResponseTypesSupported: [],
            SubjectTypesSupported: ["public"],
            AccessTokenSigningAlgValuesSupported: [o.SigningAlgorithm]), EndpointsJsonContext.Default.DiscoveryDocument);
    }
}

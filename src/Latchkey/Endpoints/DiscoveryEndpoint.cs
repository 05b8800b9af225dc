using Latchkey.Keys;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>Authorization server metadata (RFC 8414), also served as OpenID Provider Metadata (OpenID Connect Discovery 1.0 §3).</summary>
internal sealed record DiscoveryDocument(
    string Issuer,
    string AuthorizationEndpoint,
    string EndSessionEndpoint,
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
    string[] AccessTokenSigningAlgValuesSupported,
    string[] ResponseModesSupported,
    string[] CodeChallengeMethodsSupported,
    string[] IdTokenSigningAlgValuesSupported,
    string[] ClaimsSupported,
    string[] AcrValuesSupported,
    string[] PromptValuesSupported,
    bool AuthorizationResponseIssParameterSupported,
    bool RequestParameterSupported,
    bool RequestUriParameterSupported);

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
            AuthorizationEndpoint: issuer + "/authorize",
            EndSessionEndpoint: issuer + "/logout",
            TokenEndpoint: issuer + "/token",
            JwksUri: issuer + "/.well-known/jwks.json",
            UserinfoEndpoint: issuer + "/userinfo",
            RevocationEndpoint: issuer + "/revoke",
            IntrospectionEndpoint: issuer + "/introspect",
            GrantTypesSupported: o.PasswordGrant.Enabled
                ? [GrantTypes.AuthorizationCode, GrantTypes.Password, GrantTypes.ClientCredentials, GrantTypes.RefreshToken]
                : [GrantTypes.AuthorizationCode, GrantTypes.ClientCredentials, GrantTypes.RefreshToken],
            TokenEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "none"],
            RevocationEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post", "none"],
            IntrospectionEndpointAuthMethodsSupported: ["client_secret_basic", "client_secret_post"],
            ScopesSupported: [Scopes.OpenId, Scopes.Profile, Scopes.Email, .. o.Scopes.Where(s => s is not (Scopes.Admin or Scopes.OpenId or Scopes.Profile or Scopes.Email)),
                Scopes.Admin],
            ResponseTypesSupported: ["code"],
            SubjectTypesSupported: ["public"],
            AccessTokenSigningAlgValuesSupported: [o.SigningAlgorithm],
            ResponseModesSupported: ["query", "form_post"],
            CodeChallengeMethodsSupported: [Tokens.Pkce.S256],
            IdTokenSigningAlgValuesSupported: [.. SigningKeyRing.IdTokenAlgorithms(o)],
            ClaimsSupported: ["iss", "sub", "aud", "exp", "iat", "auth_time", "nonce", "sid", "at_hash", "amr", "acr", "preferred_username", "name", "email",
                "email_verified"],
            AcrValuesSupported: Protocol.AuthenticationLevels.Supported,
            PromptValuesSupported: ["none", "login", "consent"],
            AuthorizationResponseIssParameterSupported: true,
            RequestParameterSupported: false,
            RequestUriParameterSupported: false), EndpointsJsonContext.Default.DiscoveryDocument);
    }
}

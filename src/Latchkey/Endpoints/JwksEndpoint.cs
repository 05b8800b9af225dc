using Latchkey.Keys;

namespace Latchkey.Endpoints;

/// <summary><c>GET /.well-known/jwks.json</c>: the public signing keys (RFC 7517 §5). Never a private or symmetric key.</summary>
internal static class JwksEndpoint
{
    public static IEndpointConventionBuilder MapJwksEndpoint(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/.well-known/jwks.json", Handle).WithName("Jwks").WithSummary("The public keys that verify Latchkey's tokens.");

    /// <summary>
    /// max-age is the window a new key is published before it signs, so a verifier's cached copy always holds the
    /// key of any token it meets.
    /// </summary>
    private static IResult Handle(HttpContext http, SigningKeyRing keys, Microsoft.Extensions.Options.IOptions<LatchkeyOptions> options)
    {
        http.Response.Headers.CacheControl = $"public, max-age={(int)options.Value.Keys.JwksCacheLifetime.TotalSeconds}";
        return TypedResults.Bytes(keys.JwksJson, "application/json");
    }
}

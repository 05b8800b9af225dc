using Latchkey.Keys;

namespace Latchkey.Endpoints;

/// <summary><c>GET /.well-known/jwks.json</c>: the public signing keys (RFC 7517 §5). Never a private or symmetric key.</summary>
internal static class JwksEndpoint
{
    /// <summary>How long verifiers may cache the key set.</summary>
    public static readonly TimeSpan CacheLifetime = TimeSpan.FromMinutes(5);

    public static IEndpointConventionBuilder MapJwksEndpoint(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/.well-known/jwks.json", Handle).WithName("Jwks").WithSummary("The public keys that verify Latchkey's tokens.");

    private static IResult Handle(HttpContext http, SigningKeyRing keys)
    {
        http.Response.Headers.CacheControl = $"public, max-age={(int)CacheLifetime.TotalSeconds}";
        return TypedResults.Bytes(keys.JwksJson, "application/json");
    }
}

using Latchkey.Endpoints;
using Latchkey.Endpoints.Admin;

namespace Microsoft.AspNetCore.Builder;

/// <summary><c>MapLatchkey()</c>: Latchkey's HTTP surface, on any app that called <c>AddLatchkey()</c>.</summary>
public static class LatchkeyEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>POST /token</c>, <c>GET /token</c>, <c>/revoke</c>, <c>/introspect</c>, <c>/me</c>, <c>/userinfo</c>, discovery, the JWKS,
    /// <c>/admin/users</c>, <c>/admin/clients</c>, <c>/admin/audit</c> and <c>/healthz</c>.
    /// </summary>
    public static IEndpointRouteBuilder MapLatchkey(this IEndpointRouteBuilder routes)
    {
        routes.MapTokenEndpoint();
        routes.MapSeedTokenEndpoint();
        routes.MapRevocationEndpoint();
        routes.MapIntrospectionEndpoint();
        routes.MapUserInfoEndpoints();
        routes.MapDiscoveryEndpoints();
        routes.MapJwksEndpoint();
        routes.MapUsersApi();
        routes.MapClientsApi();
        routes.MapAuditApi();
        routes.MapGet("/healthz", () => TypedResults.Text("ok")).WithName("Health");
        return routes;
    }
}

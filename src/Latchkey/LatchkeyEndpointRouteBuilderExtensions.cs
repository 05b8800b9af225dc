using Latchkey;
using Latchkey.Endpoints;
using Latchkey.Endpoints.Admin;
using Microsoft.Extensions.Options;

namespace Microsoft.AspNetCore.Builder;

/// <summary><c>MapLatchkey()</c>: Latchkey's HTTP surface, on any app that called <c>AddLatchkey()</c>.</summary>
public static class LatchkeyEndpointRouteBuilderExtensions
{
    /// <summary>
    /// Maps <c>POST /token</c>, <c>GET /token</c>, <c>/revoke</c>, <c>/introspect</c>, <c>/me</c>, <c>/userinfo</c>, discovery, the JWKS,
    /// <c>/admin/users</c>, <c>/admin/clients</c>, <c>/admin/keys</c>, <c>/admin/audit</c>, <c>/healthz</c>, <c>/readyz</c> and <c>/metrics</c> (Prometheus; only on the listener of <c>Latchkey:Metrics:Urls</c> when that is set);
    /// and, unless <c>Latchkey:Docs:Enabled</c> is false, the OpenAPI document at <c>/openapi.json</c> and the interactive docs at <c>/docs</c>.
    /// </summary>
    public static IEndpointRouteBuilder MapLatchkey(this IEndpointRouteBuilder routes)
    {
        // Every Latchkey endpoint answers 503 + Retry-After, not 500, while the database is down. POST /token does
        // so itself, outside the group: the busiest endpoint skips the filter's per-request cost.
        TokenEndpoint.Map(routes);
        // The browser sign-in answers an outage with a page of its own (503), so it is outside the group too.
        Latchkey.Endpoints.SignIn.AuthorizeEndpoint.Map(routes);
        Latchkey.Endpoints.SignIn.LogoutEndpoint.Map(routes);
        Latchkey.Endpoints.SignIn.AccountEndpoint.Map(routes);
        Latchkey.Endpoints.SignIn.SignInPages.MapScript(routes);
        RouteGroupBuilder latchkey = routes.MapGroup("");
        latchkey.AddEndpointFilter(DatabaseUnavailableFilter.InvokeAsync);
        latchkey.MapSeedTokenEndpoint();
        latchkey.MapRevocationEndpoint();
        latchkey.MapIntrospectionEndpoint();
        latchkey.MapUserInfoEndpoints();
        latchkey.MapDiscoveryEndpoints();
        latchkey.MapJwksEndpoint();
        latchkey.MapUsersApi();
        latchkey.MapClientsApi();
        latchkey.MapKeysApi();
        latchkey.MapAuditApi();
        latchkey.MapHealthEndpoints();
        // On its own listener when Latchkey:Metrics:Urls is set (MetricsListenerPolicy); on every listener otherwise.
        latchkey.MapPrometheusScrapingEndpoint("/metrics").WithMetadata(MetricsListener.EndpointMetadata);
        if (routes.ServiceProvider.GetRequiredService<IOptions<LatchkeyOptions>>().Value.Docs.Enabled)
            latchkey.MapApiDocs();
        return routes;
    }
}

using System.Text.Json;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace Latchkey.Endpoints;

/// <summary>
/// <c>GET /healthz</c> (liveness: the process answers HTTP; no check runs, so a slow database never gets a live
/// server restarted) and <c>GET /readyz</c> (readiness: the database answers and the signing keys are loaded).
/// 200 when healthy, 503 otherwise; <c>/healthz</c> says <c>ok</c>, <c>/readyz</c> answers a small JSON body naming each check.
/// </summary>
internal static class HealthEndpoints
{
    /// <summary>The tag of the checks <c>/readyz</c> runs.</summary>
    public const string ReadyTag = "ready";

    public static IEndpointRouteBuilder MapHealthEndpoints(this IEndpointRouteBuilder routes)
    {
        routes.MapHealthChecks("/healthz", new HealthCheckOptions { Predicate = _ => false, ResponseWriter = (http, _) => http.Response.WriteAsync("ok") })
            .WithName("Health");
        routes.MapHealthChecks("/readyz", new HealthCheckOptions { Predicate = check => check.Tags.Contains(ReadyTag), ResponseWriter = WriteAsync })
            .WithName("Ready");
        return routes;
    }

    /// <summary><c>{"status":"Unhealthy","checks":{"database":{"status":"Unhealthy","description":"…"}}}</c>, never cached.</summary>
    private static Task WriteAsync(HttpContext http, HealthReport report)
    {
        http.Response.ContentType = "application/json; charset=utf-8";
        http.Response.Headers.CacheControl = "no-store";
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer))
        {
            json.WriteStartObject();
            json.WriteString("status", report.Status.ToString());
            json.WriteStartObject("checks");
            foreach ((string name, HealthReportEntry entry) in report.Entries)
            {
                json.WriteStartObject(name);
                json.WriteString("status", entry.Status.ToString());
                if (entry.Description is not null)
                    json.WriteString("description", entry.Description);
                json.WriteEndObject();
            }

            json.WriteEndObject();
            json.WriteEndObject();
        }

        return http.Response.Body.WriteAsync(buffer.ToArray()).AsTask();
    }
}

using Latchkey.Audit;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Latchkey.Endpoints.Admin;

/// <summary><c>GET /admin/audit</c>: the audit log, for tokens with role <c>admin</c>.</summary>
internal static class AuditApi
{
    public static void MapAuditApi(this IEndpointRouteBuilder routes) =>
        routes.MapGet("/admin/audit", ReadAuditAsync).RequireAuthorization(LatchkeyPolicies.Admin).WithName("ReadAudit")
            .WithSummary("Security events, oldest first. since: an ISO 8601 instant or a duration back from now (24h, 7d); user: only events by or about that user.");

    private static async Task<Results<JsonHttpResult<AuditEntry[]>, ProblemHttpResult>> ReadAuditAsync(
        string? since, string? user, AuditTrail audit, TimeProvider time, CancellationToken cancellationToken)
    {
        DateTimeOffset from = DateTimeOffset.MinValue;
        if (!string.IsNullOrEmpty(since))
        {
            if (AuditTrail.ParseSince(since, time.GetUtcNow()) is not { } parsed)
                return AdminRequests.BadRequest($"since '{since}' is neither an ISO 8601 instant (2026-01-01T00:00:00Z) nor a duration (30m, 24h, 7d).");
            from = parsed;
        }

        string? name = string.IsNullOrEmpty(user) ? null : Accounts.Usernames.Normalize(user);
        IReadOnlyList<AuditEntry> entries = await audit.ReadAsync(from, name, cancellationToken);
        return TypedResults.Json(entries.ToArray(), AdminJsonContext.Default.AuditEntryArray);
    }
}

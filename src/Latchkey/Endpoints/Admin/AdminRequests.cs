using System.Security.Claims;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Latchkey.Accounts;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Http.HttpResults;

namespace Latchkey.Endpoints.Admin;

/// <summary>What the admin APIs share: reading a JSON body, naming the acting admin, and turning a refused change into problem+json.</summary>
internal static class AdminRequests
{
    /// <summary>
    /// Reads a snake_case JSON body. Bodies are read here rather than bound, so that they use Latchkey's JSON contract
    /// whatever the host app configured, and so that bad JSON is a 400 problem rather than an exception.
    /// </summary>
    public static async Task<(T? Body, ProblemHttpResult? Problem)> ReadJsonAsync<T>(HttpRequest request, JsonTypeInfo<T> type, CancellationToken cancellationToken)
        where T : class
    {
        if (!request.HasJsonContentType())
            return (null, BadRequest("Send a JSON body with Content-Type: application/json."));
        try
        {
            T? body = await request.ReadFromJsonAsync(type, cancellationToken);
            return body is null ? (null, BadRequest("The body must be a JSON object.")) : (body, null);
        }
        catch (JsonException e)
        {
            // The parser's message names the path and position, never the value; it helps and leaks nothing.
            return (null, BadRequest($"The body is not valid JSON for this request: {e.Message}"));
        }
    }

    /// <summary>The admin, by name, for the audit log: <c>preferred_username</c>, else <c>sub</c>.</summary>
    public static string Actor(ClaimsPrincipal user) =>
        user.FindFirstValue(LatchkeyClaims.PreferredUsername) ?? user.FindFirstValue(LatchkeyClaims.Subject) ?? "unknown";

    public static ProblemHttpResult BadRequest(string detail) => TypedResults.Problem(detail, statusCode: StatusCodes.Status400BadRequest);

    /// <summary>Invalid input → 400, no such user or client → 404, a name that is taken → 409.</summary>
    public static ProblemHttpResult Refused(ChangeFailure? failure, string detail) => TypedResults.Problem(detail, statusCode: failure switch
    {
        ChangeFailure.NotFound => StatusCodes.Status404NotFound,
        ChangeFailure.Conflict => StatusCodes.Status409Conflict,
        _ => StatusCodes.Status400BadRequest,
    });

    /// <summary>A list in a body must not hold nulls: the account rules take strings.</summary>
    public static bool HasNull(IEnumerable<string?>? values) => values?.Any(v => v is null) == true;
}

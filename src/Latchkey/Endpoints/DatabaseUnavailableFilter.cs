using Latchkey.Diagnostics;
using Latchkey.Protocol;
using Microsoft.Extensions.Logging;

namespace Latchkey.Endpoints;

/// <summary>
/// When the database is down (stopped, restarting, unreachable), an endpoint that needs it answers 503 with
/// <c>Retry-After</c> and says so, instead of a 500: the client should simply try again, and the node stays up.
/// Nothing is half-written: every state change is one transaction, rolled back by the failure. The OAuth endpoints
/// answer in RFC 6749 §5.2 JSON (<c>temporarily_unavailable</c>), the others in problem+json. Endpoints that need no
/// database (the JWKS, discovery, bearer checks from the in-memory key ring and revocation list) keep working.
/// </summary>
internal static class DatabaseUnavailableFilter
{
    /// <summary>
    /// What the HTTP edge knows of the database: its name, and which exceptions mean it is unavailable. Supplied by the
    /// composition root from the database in use, so that endpoints know nothing of storage.
    /// </summary>
    internal sealed record Outages(string Provider, Func<Exception, bool> IsUnavailable);

    /// <summary>Long enough for a restart or failover to make progress; short enough that a user barely notices.</summary>
    public static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    private const string Description = "The service is temporarily unavailable. Try again shortly.";

    public static async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        try
        {
            return await next(context);
        }
        catch (Exception e) when (IsOAuthEndpoint(context.HttpContext.Request.Path) && OAuthError(context.HttpContext, e) is { } error)
        {
            return OAuthResults.Error(error); // no-store, as every OAuth answer
        }
        catch (Exception e) when (Unavailable(context.HttpContext, e) is { } database && !context.HttpContext.Response.HasStarted)
        {
            HttpContext http = context.HttpContext;
            LogUnavailable(http, database, e);
            http.Response.Headers.RetryAfter = ((int)RetryAfter.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
            return TypedResults.Problem(statusCode: StatusCodes.Status503ServiceUnavailable, title: "Service unavailable", detail: Description);
        }
    }

    /// <summary>
    /// For the OAuth endpoints (RFC 6749 §5.2 errors): when <paramref name="exception"/> says the database is unavailable
    /// and nothing has been written yet, logs it and returns the 503 <c>temporarily_unavailable</c> error; else null.
    /// </summary>
    public static OAuthError? OAuthError(HttpContext http, Exception exception)
    {
        if (Unavailable(http, exception) is not { } database || http.Response.HasStarted)
            return null;
        LogUnavailable(http, database, exception);
        return new OAuthError(OAuthErrors.TemporarilyUnavailable, Description, StatusCodes.Status503ServiceUnavailable)
        {
            RetryAfter = RetryAfter,
            Detail = "database unavailable",
        };
    }

    private static void LogUnavailable(HttpContext http, Outages database, Exception exception) =>
        Log.DatabaseUnavailable(http.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Latchkey.Database"),
            database.Provider, http.Request.Path, exception);

    private static Outages? Unavailable(HttpContext http, Exception exception)
    {
        Outages database = http.RequestServices.GetRequiredService<Outages>();
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (database.IsUnavailable(e))
                return database;
        }

        return null;
    }

    private static bool IsOAuthEndpoint(PathString path) =>
        path.StartsWithSegments("/token") || path.StartsWithSegments("/revoke") || path.StartsWithSegments("/introspect");
}

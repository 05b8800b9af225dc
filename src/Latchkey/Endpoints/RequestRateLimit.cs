using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Threading.RateLimiting;
using Latchkey.Accounts;
using Latchkey.Diagnostics;
using Latchkey.Protocol;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>
/// A ceiling on requests per client address (IPv6: its /64) to the endpoints that take credentials or tokens:
/// <c>/token</c>, <c>/revoke</c>, <c>/introspect</c>. The login throttle counts failed passwords; this counts everything,
/// so that one address cannot spend the node on client-secret guessing, token probing or sheer volume. Far above what a
/// real client sends (<see cref="RateLimitOptions.PermitsPerMinute"/>). Installed after the client address is resolved,
/// so behind a proxy it limits each client, not the proxy.
/// <para>
/// Its own <see cref="PartitionedRateLimiter{TResource}"/>, not <c>AddRateLimiter</c>/<c>UseRateLimiter</c>: those read
/// one global options object, which an app embedding Latchkey may already use for its own limits.
/// </para>
/// </summary>
internal sealed class RequestRateLimit : IDisposable
{
    /// <summary>RFC 6749 §5.2 JSON with RFC 8628's <c>slow_down</c>, as the login throttle answers; made once.</summary>
    private static readonly byte[] RefusalBody = JsonSerializer.SerializeToUtf8Bytes(
        new OAuthErrorBody(OAuthErrors.SlowDown, "Too many requests from your address. Try again later."), LatchkeyJsonContext.Default.OAuthErrorBody);

    private readonly PartitionedRateLimiter<IPAddress> _limiter;
    private readonly ILogger<RequestRateLimit> _logger;

    public RequestRateLimit(IOptions<LatchkeyOptions> options, ILogger<RequestRateLimit> logger)
    {
        _logger = logger;
        // A fixed one-minute window per address. Not auto-replenishing: the partitioned limiter replenishes all of its
        // windows from one timer (and drops an address's window once it has been idle for a while), rather than one timer each.
        var window = new FixedWindowRateLimiterOptions
        {
            PermitLimit = options.Value.RateLimit.PermitsPerMinute,
            Window = TimeSpan.FromMinutes(1),
            QueueLimit = 0,
            AutoReplenishment = false,
        };
        Func<IPAddress, RateLimiter> create = _ => new FixedWindowRateLimiter(window);
        _limiter = PartitionedRateLimiter.Create<IPAddress, IPAddress>(network => RateLimitPartition.Get(network, create));
    }

    /// <summary>Whether requests to <paramref name="path"/> are counted. Routing ignores case and a trailing slash, so this does too.</summary>
    public static bool Applies(PathString path)
    {
        ReadOnlySpan<char> p = path.Value;
        if (p.Length > 1 && p[^1] == '/')
            p = p[..^1];
        return p.Equals("/token", StringComparison.OrdinalIgnoreCase) ||
               p.Equals("/revoke", StringComparison.OrdinalIgnoreCase) ||
               p.Equals("/introspect", StringComparison.OrdinalIgnoreCase) ||
               p.StartsWith("/authorize", StringComparison.OrdinalIgnoreCase) ||
               p.StartsWith("/logout", StringComparison.OrdinalIgnoreCase);
    }

    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        // Without an address (a Unix socket, an in-memory server) there is nothing to tell clients apart by, and one
        // shared window would let any one client shut out all the others: such requests are not counted.
        if (!Applies(context.Request.Path) || context.Connection.RemoteIpAddress is not { } address)
            return next(context);

        RateLimitLease lease = _limiter.AttemptAcquire(ClientNetwork.Of(address));
        if (lease.IsAcquired)
        {
            // A window's permits are not given back, so the lease holds nothing: disposing it now is the same as later.
            lease.Dispose();
            return next(context);
        }

        return RefuseAsync(context, lease);
    }

    private Task RefuseAsync(HttpContext context, RateLimitLease lease)
    {
        TimeSpan retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out TimeSpan wait) ? wait : TimeSpan.FromMinutes(1);
        lease.Dispose();
        // Debug, not Information: a flood of refusals must not become a flood of log lines (the logger's queue was the
        // bottleneck of a busy node before: Log.TokenIssued).
        if (_logger.IsEnabled(LogLevel.Debug))
            Log.RequestRateLimited(_logger, context.Request.Path.Value ?? "", ClientNetwork.Key(context.Connection.RemoteIpAddress), retryAfter);

        HttpResponse response = context.Response;
        response.StatusCode = StatusCodes.Status429TooManyRequests;
        OAuthResults.NoStore(response);
        response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = RefusalBody.Length;
        return response.Body.WriteAsync(RefusalBody, 0, RefusalBody.Length, context.RequestAborted);
    }

    public void Dispose() => _limiter.Dispose();
}

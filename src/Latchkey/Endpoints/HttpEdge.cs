using Latchkey.Diagnostics;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>
/// The middleware in front of every request, installed by <c>AddLatchkey()</c> as a startup filter, so that both
/// <c>latchkey serve</c> and an app that embeds Latchkey get it (<c>MapLatchkey()</c> maps endpoints and cannot add
/// middleware). In order:
/// <list type="number">
/// <item><see cref="SecurityHeaders"/> on every response, the refusals below included;</item>
/// <item>CORS for browser apps (<see cref="BrowserCors"/>), answering preflights;</item>
/// <item><see cref="ClientAddressMiddleware"/>: the client's address behind <see cref="LatchkeyOptions.TrustedProxies"/> (only when some are listed);</item>
/// <item><see cref="RequestRateLimit"/> per client address on /token, /revoke, /introspect and the sign-in pages (unless turned off).</item>
/// </list>
/// </summary>
internal sealed class HttpEdge(IOptions<LatchkeyOptions> options, IConfiguration configuration, ILogger<HttpEdge> logger) : IStartupFilter
{
    /// <summary>
    /// The host configuration key (environment variable <c>ASPNETCORE_FORWARDEDHEADERS_ENABLED</c>) with which ASP.NET Core
    /// installs its own forwarded-headers middleware, and clears its known proxies and networks so that it believes
    /// <c>X-Forwarded-For</c> from any peer at all (ForwardedHeadersOptionsSetup). Checked as it checks it.
    /// </summary>
    public const string FrameworkForwardedHeadersKey = "FORWARDEDHEADERS_ENABLED";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next)
    {
        // Here, because this runs as the app starts, before it listens: an embedding app is refused as `latchkey serve` is.
        if (FrameworkForwardedHeadersProblem(configuration) is { } problem)
            throw new LatchkeyStartupException(problem);

        LatchkeyOptions o = options.Value;
        TrustedProxies? proxies = TrustedProxies.From(o.TrustedProxies);
        if (proxies is not null)
            Log.TrustingForwardedHeader(logger, o.ForwardedHeader, string.Join(", ", o.TrustedProxies), o.ForwardLimit);

        return app =>
        {
            app.Use(rest => new SecurityHeaders(rest, o).InvokeAsync);
            // CORS for browser apps (BrowserCors): before the rate limit, so that a refused request still carries its headers.
            app.UseCors();
            // Not installed at all without proxies: the busiest endpoint does not pay for a header it must ignore.
            if (proxies is not null)
                app.Use(rest => new ClientAddressMiddleware(rest, proxies, o).InvokeAsync);
            if (o.RateLimit.PermitsPerMinute > 0)
            {
                RequestRateLimit limit = app.ApplicationServices.GetRequiredService<RequestRateLimit>();
                app.Use(rest => context => limit.InvokeAsync(context, rest));
            }

            next(app);
        };
    }

    /// <summary>
    /// ASP.NET Core's own forwarded headers, switched on by configuration, would let any client choose the address that the
    /// login throttle, the rate limit and the audit log see: the problem and its fix, or null when they are off.
    /// </summary>
    public static string? FrameworkForwardedHeadersProblem(IConfiguration configuration) =>
        string.Equals("true", configuration[FrameworkForwardedHeadersKey], StringComparison.OrdinalIgnoreCase)
            ? "ASPNETCORE_FORWARDEDHEADERS_ENABLED=true makes ASP.NET Core believe X-Forwarded-For from any client, so every client " +
              "could choose the address that login throttling, rate limits and the audit log see: unset ASPNETCORE_FORWARDEDHEADERS_ENABLED " +
              "and list your proxies in Latchkey:TrustedProxies (LATCHKEY__TRUSTEDPROXIES__0=10.0.0.5)."
            : null;
}

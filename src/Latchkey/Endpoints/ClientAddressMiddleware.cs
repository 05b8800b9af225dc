using System.Net;
using Latchkey.Accounts;
using Microsoft.Extensions.Primitives;

namespace Latchkey.Endpoints;

/// <summary>
/// Replaces <see cref="ConnectionInfo.RemoteIpAddress"/> with the client's address when the request came through one of
/// the <see cref="LatchkeyOptions.TrustedProxies"/>, so that the login throttle, the rate limit, the audit log and the logs
/// (which all read it) see the client, not the proxy. Installed only when proxies are configured.
/// </summary>
internal sealed class ClientAddressMiddleware(RequestDelegate next, TrustedProxies proxies, LatchkeyOptions options)
{
    // Only the configured header is read: a proxy that appends to X-Forwarded-For passes a Forwarded header from the
    // client through untouched (and the other way round), so the other one says whatever the client wants.
    private readonly bool _rfc7239 = options.ForwardedHeader.Equals(ForwardedFor.ForwardedHeader, StringComparison.OrdinalIgnoreCase);
    private readonly string _header = options.ForwardedHeader;
    private readonly int _limit = options.ForwardLimit;

    public Task InvokeAsync(HttpContext context)
    {
        ConnectionInfo connection = context.Connection;
        if (connection.RemoteIpAddress is { } remote)
        {
            IPAddress peer = ClientNetwork.Normalize(remote);
            // From any other peer the header is the client's own claim, and is ignored.
            if (proxies.Contains(peer))
            {
                StringValues lines = context.Request.Headers[_header];
                connection.RemoteIpAddress = lines.Count == 0 ? peer : ForwardedFor.Resolve(peer, lines, _rfc7239, proxies, _limit);
            }
        }

        return next(context);
    }
}

using Latchkey.Clients;
using Latchkey.Protocol;
using Microsoft.AspNetCore.Cors.Infrastructure;
using Microsoft.Extensions.Options;

namespace Latchkey.Endpoints;

/// <summary>
/// CORS for the endpoints a browser app calls itself (a single-page app: the token exchange, <c>/userinfo</c>, <c>/revoke</c>,
/// discovery and the JWKS), for the origins of the registered redirect URIs of enabled clients with the authorization code
/// grant, and no other. No credentials (cookies) are allowed cross-origin: these endpoints take a token or a client's proof,
/// never the browser's session. ASP.NET Core's CORS middleware applies it; a request without an <c>Origin</c> header (every
/// server-to-server call) never reaches this class.
/// </summary>
internal sealed class BrowserCors(ClientAccounts clients, IOptions<LatchkeyOptions> options, TimeProvider time) : ICorsPolicyProvider
{
    private static readonly PathString[] Paths =
    [
        "/token", "/userinfo", "/revoke", "/.well-known/openid-configuration", "/.well-known/oauth-authorization-server", "/.well-known/jwks.json",
    ];

    private readonly SemaphoreSlim _reading = new(1, 1);
    private (HashSet<string> Origins, DateTimeOffset ReadAt)? _origins;

    public async Task<CorsPolicy?> GetPolicyAsync(HttpContext context, string? policyName)
    {
        if (!Paths.Contains(context.Request.Path))
            return null;
        HashSet<string> origins = await OriginsAsync(context.RequestAborted);
        return new CorsPolicyBuilder()
            .SetIsOriginAllowed(origins.Contains)
            .WithMethods(HttpMethods.Get, HttpMethods.Post)
            .WithHeaders("Authorization", "Content-Type", "DPoP")
            .WithExposedHeaders("WWW-Authenticate", "Retry-After")
            .SetPreflightMaxAge(TimeSpan.FromMinutes(10))
            .Build();
    }

    /// <summary>The allowed origins, read again once <see cref="LatchkeyOptions.ClientCacheLifetime"/> has passed (as client records are).</summary>
    private async Task<HashSet<string>> OriginsAsync(CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        if (_origins is { } cached && now - cached.ReadAt < options.Value.ClientCacheLifetime)
            return cached.Origins;
        await _reading.WaitAsync(cancellationToken);
        try
        {
            if (_origins is { } again && now - again.ReadAt < options.Value.ClientCacheLifetime)
                return again.Origins;
            var origins = new HashSet<string>(StringComparer.Ordinal);
            foreach (ClientRegistration client in await clients.ListAsync(cancellationToken))
            {
                if (client.Disabled || !client.GrantTypes.Contains(GrantTypes.AuthorizationCode))
                    continue;
                foreach (string uri in client.RedirectUris)
                {
                    if (Uri.TryCreate(uri, UriKind.Absolute, out Uri? parsed) && parsed.Scheme is "https" or "http")
                        origins.Add(parsed.GetLeftPart(UriPartial.Authority));
                }
            }

            _origins = (origins, now);
            return origins;
        }
        finally
        {
            _reading.Release();
        }
    }
}

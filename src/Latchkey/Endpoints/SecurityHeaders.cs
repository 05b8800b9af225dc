using Microsoft.Extensions.Primitives;

namespace Latchkey.Endpoints;

/// <summary>
/// Headers that tell browsers to treat every response as exactly what it says it is: no MIME sniffing, no Referer to
/// anywhere, no framing, nothing loaded. API responses are JSON that no browser should ever render or run; <c>/docs</c>
/// (Swagger UI) gets a policy that lets its own scripts, styles and images load, and nothing else.
/// Set before the endpoint runs, from values made once, so they cost a few header writes per request.
/// </summary>
internal sealed class SecurityHeaders(RequestDelegate next, LatchkeyOptions options)
{
    private const string ReferrerPolicyHeader = "Referrer-Policy";

    private static readonly StringValues NoSniff = "nosniff";
    private static readonly StringValues NoReferrer = "no-referrer";

    /// <summary>Nothing may load and nobody may frame it: JSON has no business running anything in a browser (CSP Level 3).</summary>
    internal static readonly StringValues ApiPolicy = "default-src 'none'; frame-ancestors 'none'";

    /// <summary>
    /// What Swagger UI's index.html needs, and no more: its bundle, preset and index.js, its two style sheets, images from
    /// itself and the <c>data:</c> SVG icons of swagger-ui.css, and fetches of <c>/openapi.json</c>, <c>/token</c> and the
    /// operations it tries, all same-origin. No inline script (the configuration comes from index.js), no eval, no framing
    /// (clickjacking of the "Authorize" login form), and no forms posting anywhere.
    /// The one inline style is the <c>&lt;style&gt;</c> in the top bar's SVG logo (<c>.logo_small_svg__cls-2{fill:#fff}…</c>
    /// in swagger-ui-bundle.js 5.34), allowed by its hash rather than by <c>'unsafe-inline'</c>. A Swagger UI that changes
    /// it makes DocsBrowserTests fail on the CSP violation, with the new hash in the message.
    /// </summary>
    internal static readonly StringValues DocsPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; " +
        "img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>One year (RFC 6797 §6.1.1). Browsers ignore it over plain HTTP (§8.1), so it is sent only for an https issuer.</summary>
    private static readonly StringValues Hsts = "max-age=31536000";

    private readonly bool _hsts = Uri.TryCreate(options.Issuer, UriKind.Absolute, out Uri? issuer) && issuer.Scheme == Uri.UriSchemeHttps;
    private readonly PathString? _docs = options.Docs.Enabled ? new PathString(ApiDocs.UiPath) : null;

    public Task InvokeAsync(HttpContext context)
    {
        IHeaderDictionary headers = context.Response.Headers;
        headers.XContentTypeOptions = NoSniff;
        headers[ReferrerPolicyHeader] = NoReferrer;
        headers.ContentSecurityPolicy = _docs is { } docs && context.Request.Path.StartsWithSegments(docs) ? DocsPolicy : ApiPolicy;
        if (_hsts)
            headers.StrictTransportSecurity = Hsts;
        return next(context);
    }
}

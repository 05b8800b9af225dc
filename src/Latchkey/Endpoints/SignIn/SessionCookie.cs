namespace Latchkey.Endpoints.SignIn;

/// <summary>
/// The browser's sign-in cookie: the session's secret (the database keeps only its hash), <c>HttpOnly</c> (no script reads
/// it), <c>SameSite=Lax</c> (sent when another site links here, as a sign-in from an app does; not on another site's posts).
/// With an https issuer it is <c>Secure</c> and named <c>__Host-</c>…, which browsers accept only from this very host, over
/// https, for path <c>/</c>: no subdomain can set or shadow it.
/// </summary>
internal sealed class SessionCookie(LatchkeyOptions options)
{
    private readonly bool _secure = Uri.TryCreate(options.Issuer, UriKind.Absolute, out Uri? issuer) && issuer.Scheme == Uri.UriSchemeHttps;

    public string Name => _secure ? "__Host-latchkey-session" : "latchkey-session";

    public string? Read(HttpRequest request) => request.Cookies.TryGetValue(Name, out string? value) && value.Length > 0 ? value : null;

    public void Write(HttpResponse response, string secret) => response.Cookies.Append(Name, secret, Options());

    public void Delete(HttpResponse response) => response.Cookies.Delete(Name, Options());

    private CookieOptions Options() => new()
    {
        HttpOnly = true,
        SameSite = SameSiteMode.Lax,
        Secure = _secure,
        Path = "/",
        IsEssential = true,
    };
}

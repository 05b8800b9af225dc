using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text.Encodings.Web;
using Latchkey.Endpoints.SignIn.Pages;
using Microsoft.Extensions.Primitives;
using RazorSlices;

namespace Latchkey.Endpoints.SignIn;

/// <summary>
/// Renders the hosted pages (RazorSlices templates in <c>Pages/</c>) with the headers every one of them needs: never cached,
/// never framed (CSP <c>frame-ancestors 'none'</c> and <c>X-Frame-Options: DENY</c>), nothing loaded from anywhere, its one
/// style block (and the form_post page's script, or the passkey script) allowed by a nonce made for this response, and forms posting only to
/// Latchkey itself, or to the app the page sends the browser back to.
/// </summary>
internal static class SignInPages
{
    /// <summary>The largest form the hosted pages read: theirs are a few hundred bytes, the carried request at most 8 KiB.</summary>
    public const int MaxFormBytes = 64 * 1024;

    /// <summary>
    /// Runs a handler of the hosted pages. With an https issuer the browser reached Latchkey over https, whatever the hop from a
    /// TLS-terminating proxy was: the request is treated as https, so that the antiforgery cookie is issued <c>Secure</c> (its
    /// <c>__Host-</c> name needs it) rather than refused. A post must be a small urlencoded form (no multipart, no file
    /// uploads); one that breaks the form limits gets a 400 page, and a database outage a 503 page, never a 500.
    /// </summary>
    public static async Task GuardAsync(HttpContext http, string brand, bool httpsIssuer, Func<HttpContext, Task> handler)
    {
        if (httpsIssuer)
            http.Request.Scheme = Uri.UriSchemeHttps;
        if (HttpMethods.IsPost(http.Request.Method))
        {
            if (!Microsoft.Net.Http.Headers.MediaTypeHeaderValue.TryParse(http.Request.ContentType, out var type) ||
                !type.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase))
            {
                await ErrorAsync(http, brand, "This request is not valid", "The request must be a form (application/x-www-form-urlencoded).");
                return;
            }

            if (http.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                limit.MaxRequestBodySize = MaxFormBytes;
        }

        try
        {
            await handler(http);
        }
        catch (Exception e) when (!http.Response.HasStarted && e is BadHttpRequestException or InvalidDataException or Microsoft.AspNetCore.Antiforgery.AntiforgeryValidationException)
        {
            await ErrorAsync(http, brand, "This request is not valid", "The form is too large or malformed.");
        }
        catch (Exception e) when (!http.Response.HasStarted && DatabaseUnavailableFilter.OAuthError(http, e) is not null)
        {
            await ErrorAsync(http, brand, "Sign-in is unavailable", "Sign-in is unavailable for a moment. Try again shortly.", StatusCodes.Status503ServiceUnavailable);
        }
    }

    /// <summary>Where the pages' script is served: asking the browser for a passkey and posting its answer in the page's form.</summary>
    public const string PasskeyScriptPath = "/signin/passkeys.js";

    private static readonly byte[] PasskeyScript = ReadPasskeyScript();

    private static byte[] ReadPasskeyScript()
    {
        using Stream stream = typeof(SignInPages).Assembly.GetManifestResourceStream("passkeys.js")!;
        using var copy = new MemoryStream();
        stream.CopyTo(copy);
        return copy.ToArray();
    }

    /// <summary>Maps the script (a static file, from the assembly): the pages load it by their nonce, from here only.</summary>
    public static void MapScript(IEndpointRouteBuilder routes) =>
        routes.MapGet(PasskeyScriptPath, (HttpContext http) =>
        {
            http.Response.ContentType = "text/javascript; charset=utf-8";
            http.Response.Headers.CacheControl = "public, max-age=300";
            http.Response.Headers.XContentTypeOptions = "nosniff";
            return http.Response.Body.WriteAsync(PasskeyScript, http.RequestAborted).AsTask();
        }).ExcludeFromDescription();

    public static string NewNonce() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));

    public static Task LoginAsync(HttpContext http, LoginPage page, string? returnTo, int status = StatusCodes.Status200OK) =>
        RenderAsync(http, Login.Create(page), page.Nonce, returnTo, status, script: page.Passkey is not null);

    public static Task SecondFactorAsync(HttpContext http, SecondFactorPage page, string? returnTo, int status = StatusCodes.Status200OK) =>
        RenderAsync(http, SecondFactor.Create(page), page.Nonce, returnTo, status, script: page.Passkey is not null);

    public static Task EnrolAsync(HttpContext http, EnrolPage page, string? returnTo, int status = StatusCodes.Status200OK) =>
        RenderAsync(http, Enrol.Create(page), page.Nonce, returnTo, status, script: page.PasskeyRegistration is not null);

    public static Task RecoveryCodesAsync(HttpContext http, RecoveryCodesPage page) =>
        RenderAsync(http, RecoveryCodes.Create(page), page.Nonce, returnTo: null, StatusCodes.Status200OK);

    /// <summary>The QR code of an authenticator app's key URI, drawn on the server as SVG (no script, nothing fetched), as a data: URI for an img.</summary>
    public static string QrCodeDataUri(string uri)
    {
        using QRCoder.QRCodeData data = QRCoder.QRCodeGenerator.GenerateQrCode(uri, QRCoder.QRCodeGenerator.ECCLevel.M);
        string svg = new QRCoder.SvgQRCode(data).GetGraphic(4);
        return "data:image/svg+xml;base64," + Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(svg));
    }

    public static Task AccountAsync(HttpContext http, AccountPage page, int status = StatusCodes.Status200OK) =>
        RenderAsync(http, Account.Create(page), page.Nonce, returnTo: null, status, script: page.PasskeyRegistration is not null);

    public static Task ConsentAsync(HttpContext http, ConsentPage page, string returnTo) =>
        RenderAsync(http, Consent.Create(page), page.Nonce, returnTo, StatusCodes.Status200OK);

    public static Task LogoutAsync(HttpContext http, LogoutPage page, string? returnTo) =>
        RenderAsync(http, Logout.Create(page), page.Nonce, returnTo, StatusCodes.Status200OK);

    public static Task SignedOutAsync(HttpContext http, string brand, string heading, string message)
    {
        string nonce = NewNonce();
        return RenderAsync(http, SignedOut.Create(new SignedOutPage(brand, nonce, heading, message)), nonce, returnTo: null, StatusCodes.Status200OK);
    }

    public static Task ErrorAsync(HttpContext http, string brand, string heading, string message, int status = StatusCodes.Status400BadRequest)
    {
        string nonce = NewNonce();
        return RenderAsync(http, Error.Create(new ErrorPage(brand, nonce, heading, message)), nonce, returnTo: null, status);
    }

    public static Task FormPostAsync(HttpContext http, string brand, string action, IReadOnlyList<KeyValuePair<string, string>> fields)
    {
        string nonce = NewNonce();
        return RenderAsync(http, FormPost.Create(new FormPostPage(brand, nonce, action, fields)), nonce, action, StatusCodes.Status200OK, script: true);
    }

    private static async Task RenderAsync(HttpContext http, RazorSlice slice, string nonce, string? returnTo, int status, bool script = false)
    {
        HttpResponse response = http.Response;
        response.StatusCode = status;
        response.ContentType = "text/html; charset=utf-8";
        IHeaderDictionary headers = response.Headers;
        headers.CacheControl = "no-store";
        headers.Pragma = "no-cache";
        headers.XFrameOptions = "DENY";
        headers.ContentSecurityPolicy = Policy(nonce, returnTo, script);
        await slice.RenderAsync(response.BodyWriter, HtmlEncoder.Default, http.RequestAborted);
    }

    /// <summary>
    /// The page's policy. <c>form-action</c> must allow the app's redirect URI too: browsers apply it to the redirect that
    /// answers a form post (the login and consent forms end in one), not only to the form's own action.
    /// </summary>
    private static StringValues Policy(string nonce, string? returnTo, bool script)
    {
        string formAction = "'self'";
        if (returnTo is not null && Uri.TryCreate(returnTo, UriKind.Absolute, out Uri? target))
            formAction += target.Scheme is "http" or "https" ? " " + target.GetLeftPart(UriPartial.Authority) : " " + target.Scheme + ":";
        return $"default-src 'none'; style-src 'nonce-{nonce}'; script-src {(script ? $"'nonce-{nonce}'" : "'none'")}; img-src 'self' data:; " +
               $"form-action {formAction}; frame-ancestors 'none'; base-uri 'none'";
    }
}

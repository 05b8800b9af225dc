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
/// style block (and the form_post page's one script) allowed by a nonce made for this response, and forms posting only to
/// Latchkey itself, or to the app the page sends the browser back to.
/// </summary>
internal static class SignInPages
{
    public static string NewNonce() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));

    public static Task LoginAsync(HttpContext http, LoginPage page, string? returnTo, int status = StatusCodes.Status200OK) =>
        RenderAsync(http, Login.Create(page), page.Nonce, returnTo, status);

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

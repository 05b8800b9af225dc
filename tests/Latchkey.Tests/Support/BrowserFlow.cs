using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using Latchkey.Clients;
using Microsoft.AspNetCore.WebUtilities;

namespace Latchkey.Tests.Support;

/// <summary>
/// A browser, as far as the authorization endpoint can tell: real HTTP with a cookie jar, redirects not followed (so tests
/// see where Latchkey sends the browser), and the hosted pages' forms filled in as a person would (hidden fields kept).
/// </summary>
public sealed partial class BrowserFlow : IDisposable
{
    private readonly LatchkeyTestServer _server;

    /// <summary>A browser; its connections come from <paramref name="localAddress"/> when given (any 127.x address is loopback).</summary>
    public BrowserFlow(LatchkeyTestServer server, string? localAddress = null)
    {
        _server = server;
        Cookies = new CookieContainer();
        var handler = new SocketsHttpHandler
        {
            CookieContainer = Cookies,
            UseCookies = true,
            AllowAutoRedirect = false,
            ConnectCallback = async (context, cancellationToken) =>
            {
                var socket = new Socket(SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                if (localAddress is not null)
                    socket.Bind(new IPEndPoint(IPAddress.Parse(localAddress), 0));
                await socket.ConnectAsync(context.DnsEndPoint, cancellationToken);
                return new NetworkStream(socket, ownsSocket: true);
            },
        };
        Http = new HttpClient(new SecretsSeen.RecordingHandler(handler)) { BaseAddress = server.BaseAddress };
    }

    public CookieContainer Cookies { get; }
    public HttpClient Http { get; }

    public string? SessionCookie => Cookies.GetCookies(_server.BaseAddress)["latchkey-session"]?.Value;

    public void Dispose() => Http.Dispose();

    /// <summary>A PKCE verifier and its S256 challenge (RFC 7636 §4.1, §4.2).</summary>
    public static (string Verifier, string Challenge) Pkce()
    {
        string verifier = Base64UrlTextEncoder.Encode(RandomNumberGenerator.GetBytes(32));
        return (verifier, Base64UrlTextEncoder.Encode(SHA256.HashData(Encoding.ASCII.GetBytes(verifier))));
    }

    /// <summary>An authorization request's query: the usual parameters, then <paramref name="extra"/> (a null value removes one).</summary>
    public static string AuthorizeUrl(string clientId, string redirectUri, string challenge, IDictionary<string, string?>? extra = null)
    {
        var parameters = new Dictionary<string, string?>
        {
            ["response_type"] = "code",
            ["client_id"] = clientId,
            ["redirect_uri"] = redirectUri,
            ["scope"] = "openid profile",
            ["state"] = "st-" + Guid.NewGuid().ToString("N")[..8],
            ["nonce"] = "n-" + Guid.NewGuid().ToString("N")[..8],
            ["code_challenge"] = challenge,
            ["code_challenge_method"] = "S256",
        };
        foreach ((string key, string? value) in extra ?? new Dictionary<string, string?>())
            parameters[key] = value;
        return QueryHelpers.AddQueryString("/authorize", parameters.Where(p => p.Value is not null)!);
    }

    public Task<HttpResponseMessage> GetAsync(string url) => Http.GetAsync(url);

    /// <summary>Submits the page's form (the first one) with its hidden fields and <paramref name="fields"/>, as the browser would.</summary>
    public async Task<HttpResponseMessage> SubmitAsync(HttpResponseMessage page, IDictionary<string, string> fields)
    {
        string html = await page.Content.ReadAsStringAsync();
        (string action, Dictionary<string, string> form) = Form(html);
        foreach ((string key, string value) in fields)
            form[key] = value;
        if (form.TryGetValue("password", out string? password))
            SecretsSeen.Record(password, "a password");
        return await Http.PostAsync(action, new FormUrlEncodedContent(form));
    }

    /// <summary>The login page's form, filled in and posted.</summary>
    public Task<HttpResponseMessage> LoginAsync(HttpResponseMessage loginPage, string username, string password) =>
        SubmitAsync(loginPage, new Dictionary<string, string> { ["username"] = username, ["password"] = password });

    /// <summary>The form of a page: its action and its hidden fields.</summary>
    public static (string Action, Dictionary<string, string> Fields) Form(string html)
    {
        Match form = FormTag().Match(html);
        Assert.True(form.Success, "the page has no form: " + html);
        var fields = new Dictionary<string, string>();
        foreach (Match input in HiddenInput().Matches(html))
            fields[WebUtility.HtmlDecode(input.Groups["name"].Value)] = WebUtility.HtmlDecode(input.Groups["value"].Value);
        return (WebUtility.HtmlDecode(form.Groups["action"].Value), fields);
    }

    /// <summary>The parameters Latchkey sent the browser back to the app with (a 302 or 303 to the redirect URI).</summary>
    public static Dictionary<string, string> Callback(HttpResponseMessage response, string redirectUri)
    {
        Assert.True(response.StatusCode is HttpStatusCode.Found or HttpStatusCode.SeeOther,
            $"expected a redirect to the app, got {(int)response.StatusCode}: {response.Content.ReadAsStringAsync().Result}");
        string location = response.Headers.Location!.OriginalString;
        Assert.StartsWith(redirectUri + "?", location);
        var parameters = QueryHelpers.ParseQuery(new Uri(location).Query).ToDictionary(p => p.Key, p => p.Value.ToString());
        if (parameters.TryGetValue("code", out string? code))
            SecretsSeen.Record(code, "an authorization code");
        return parameters;
    }

    /// <summary>The code exchange (RFC 6749 §4.1.3), as a public client (no secret) or a confidential one (<paramref name="secret"/>, Basic).</summary>
    public Task<HttpResponseMessage> ExchangeAsync(string clientId, string code, string redirectUri, string verifier, string? secret = null)
    {
        var form = new Dictionary<string, string>
        {
            ["grant_type"] = "authorization_code",
            ["code"] = code,
            ["redirect_uri"] = redirectUri,
            ["code_verifier"] = verifier,
        };
        if (secret is null)
            form["client_id"] = clientId;
        return _server.PostFormAsync("/token", form, secret is null ? null : (clientId, secret));
    }

    /// <summary>Registers a client for the browser flow through the same code as <c>latchkey clients add</c>; returns its secret (null when public).</summary>
    public static async Task<string?> AddBrowserClientAsync(LatchkeyTestServer server, string clientId, string[] redirectUris, bool isPublic = false,
        bool firstParty = true, string[]? grants = null, string[]? scopes = null, string[]? postLogoutRedirectUris = null, string? idTokenAlgorithm = null)
    {
        ClientResult result = await server.Services.GetRequiredService<ClientAccounts>().AddAsync(clientId,
            grants ?? ["authorization_code", "refresh_token"], scopes ?? ["api"], null, "test", CancellationToken.None, null,
            new BrowserSettings(redirectUris, postLogoutRedirectUris ?? [], isPublic, firstParty) { IdTokenAlgorithm = idTokenAlgorithm });
        Assert.True(result.Succeeded, result.Error);
        SecretsSeen.Record(result.Secret, "a client secret");
        return result.Secret;
    }

    [GeneratedRegex("<form[^>]*action=\"(?<action>[^\"]*)\"")]
    private static partial Regex FormTag();

    [GeneratedRegex("<input type=\"hidden\" name=\"(?<name>[^\"]*)\" value=\"(?<value>[^\"]*)\"")]
    private static partial Regex HiddenInput();
}

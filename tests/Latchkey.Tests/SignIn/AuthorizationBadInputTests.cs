using System.Net;
using System.Text.Json;
using Latchkey.Accounts;
using Latchkey.Clients;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.SignIn;

/// <summary>
/// Every bad input the browser sign-in names (issue 22), each refused with the error its specification names: never a 500,
/// and never a redirect to a URI the client has not registered.
/// </summary>
public sealed class AuthorizationBadInputTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private const string WebRedirect = "https://app.example/callback";
    private const string NativeRedirect = "http://127.0.0.1/callback";

    private LatchkeyTestServer _server = null!;
    private BrowserFlow _browser = null!;
    private string _webSecret = null!;
    private string _otherSecret = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", Password);
        _webSecret = (await BrowserFlow.AddBrowserClientAsync(_server, "webapp", [WebRedirect]))!;
        _otherSecret = (await BrowserFlow.AddBrowserClientAsync(_server, "otherapp", [WebRedirect]))!;
        await BrowserFlow.AddBrowserClientAsync(_server, "native", [NativeRedirect], isPublic: true);
        await BrowserFlow.AddBrowserClientAsync(_server, "thirdparty", [WebRedirect], firstParty: false, scopes: ["api"]);
        _browser = new BrowserFlow(_server);
    }

    public async ValueTask DisposeAsync()
    {
        _browser.Dispose();
        await _server.DisposeAsync();
    }

    private async Task<(string Code, string Verifier)> CodeAsync(string clientId = "webapp", string redirectUri = WebRedirect)
    {
        (string verifier, string challenge) = BrowserFlow.Pkce();
        HttpResponseMessage response = await _browser.GetAsync(BrowserFlow.AuthorizeUrl(clientId, redirectUri, challenge));
        if (response.StatusCode == HttpStatusCode.OK && (await response.Content.ReadAsStringAsync()).Contains("current-password"))
            response = await _browser.LoginAsync(response, "alice", Password);
        if (response.StatusCode == HttpStatusCode.OK && (await response.Content.ReadAsStringAsync()).Contains(">Allow</button>"))
            response = await _browser.SubmitAsync(response, new Dictionary<string, string> { ["decision"] = "allow" });
        return (BrowserFlow.Callback(response, redirectUri)["code"], verifier);
    }

    private static async Task AssertErrorPageAsync(HttpResponseMessage response, string text)
    {
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Null(response.Headers.Location);
        Assert.Contains(text, await response.Content.ReadAsStringAsync());
    }

    private async Task<Dictionary<string, string>> AuthorizeErrorAsync(IDictionary<string, string?> extra, string clientId = "webapp")
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage response = await _browser.GetAsync(BrowserFlow.AuthorizeUrl(clientId, WebRedirect, challenge, extra));
        Dictionary<string, string> callback = BrowserFlow.Callback(response, WebRedirect);
        Assert.False(callback.ContainsKey("code"));
        Assert.Equal(LatchkeyTestServer.Issuer, callback["iss"]);
        return callback;
    }

    // --- The code exchange ---

    [Fact]
    public async Task CodeVerifier_Missing_InvalidRequest()
    {
        (string code, _) = await CodeAsync();
        var form = new Dictionary<string, string> { ["grant_type"] = "authorization_code", ["code"] = code, ["redirect_uri"] = WebRedirect };

        await HttpAssert.OAuthErrorAsync(await _server.PostFormAsync("/token", form, ("webapp", _webSecret)), HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task CodeVerifier_Wrong_InvalidGrant_AndTheCodeIsSpent()
    {
        (string code, string verifier) = await CodeAsync();

        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("webapp", code, WebRedirect, BrowserFlow.Pkce().Verifier, _webSecret),
            HttpStatusCode.BadRequest, "invalid_grant");
        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("webapp", code, WebRedirect, verifier, _webSecret), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task CodeVerifier_ThePlainChallengeItself_InvalidGrant()
    {
        // A client that sent code_challenge_method=plain would present the challenge as its verifier: that never matches S256.
        (string verifier, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge));
        string code = BrowserFlow.Callback(await _browser.LoginAsync(page, "alice", Password), WebRedirect)["code"];

        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("webapp", code, WebRedirect, challenge, _webSecret), HttpStatusCode.BadRequest, "invalid_grant");
        Assert.NotEqual(verifier, challenge);
    }

    [Fact]
    public async Task Code_RedeemedTwice_SecondRefused_AndEverythingTheFirstIssuedIsRevoked()
    {
        (string code, string verifier) = await CodeAsync();
        JsonElement tokens = await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("webapp", code, WebRedirect, verifier, _webSecret));
        string access = tokens.GetProperty("access_token").GetString()!;
        string refresh = tokens.GetProperty("refresh_token").GetString()!;
        using (HttpResponseMessage before = await _server.GetWithBearerAsync("/userinfo", access))
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);

        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("webapp", code, WebRedirect, verifier, _webSecret), HttpStatusCode.BadRequest, "invalid_grant");

        using (HttpResponseMessage after = await _server.GetWithBearerAsync("/userinfo", access))
            Assert.Equal(HttpStatusCode.Unauthorized, after.StatusCode);
        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(refresh, ("webapp", _webSecret)), HttpStatusCode.BadRequest, "invalid_grant");
        var audit = await _server.Services.GetRequiredService<Latchkey.Audit.AuditTrail>().ReadAsync(DateTimeOffset.MinValue, null, CancellationToken.None);
        Assert.Contains(audit, e => e.Type == "authorization_code_replayed" && e.Detail!.Contains("refresh family") && e.Detail.Contains("access token"));
    }

    [Fact]
    public async Task Code_RedeemedByAnotherClient_InvalidGrant()
    {
        (string code, string verifier) = await CodeAsync();

        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("otherapp", code, WebRedirect, verifier, _otherSecret), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Code_WithAnotherRedirectUri_InvalidGrant()
    {
        (string code, string verifier) = await CodeAsync();

        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("webapp", code, WebRedirect + "x", verifier, _webSecret),
            HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Code_After60Seconds_InvalidGrant()
    {
        (string code, string verifier) = await CodeAsync();
        _server.Time.Advance(TimeSpan.FromSeconds(61));

        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("webapp", code, WebRedirect, verifier, _webSecret), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Code_Unknown_OrMalformed_InvalidGrant()
    {
        (_, string verifier) = await CodeAsync();

        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("webapp", new string('A', 43), WebRedirect, verifier, _webSecret),
            HttpStatusCode.BadRequest, "invalid_grant");
        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("webapp", "not a code", WebRedirect, verifier, _webSecret),
            HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task Code_AfterTheUserLoggedOutEverywhere_InvalidGrant()
    {
        (string code, string verifier) = await CodeAsync();
        _server.Time.Advance(TimeSpan.FromMilliseconds(5));
        Assert.True((await _server.Services.GetRequiredService<UserAccounts>().LogoutAsync("alice", "test", CancellationToken.None)).Succeeded);

        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("webapp", code, WebRedirect, verifier, _webSecret), HttpStatusCode.BadRequest, "invalid_grant");
    }

    [Fact]
    public async Task ConfidentialClient_WithoutItsSecret_InvalidClient_PublicClientWithASecret_InvalidClient()
    {
        (string code, string verifier) = await CodeAsync();
        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("webapp", code, WebRedirect, verifier), HttpStatusCode.Unauthorized, "invalid_client");

        (string nativeCode, string nativeVerifier) = await CodeAsync("native", NativeRedirect);
        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("native", nativeCode, NativeRedirect, nativeVerifier, "a-secret-it-does-not-have"),
            HttpStatusCode.Unauthorized, "invalid_client");
    }

    // --- The authorization request: errors that go back to the app ---

    [Fact]
    public async Task Pkce_MissingChallenge_PlainMethod_OrMissingMethod_InvalidRequest()
    {
        Assert.Equal("invalid_request", (await AuthorizeErrorAsync(new Dictionary<string, string?> { ["code_challenge"] = null }))["error"]);
        Assert.Equal("invalid_request", (await AuthorizeErrorAsync(new Dictionary<string, string?> { ["code_challenge_method"] = "plain" }))["error"]);
        Assert.Equal("invalid_request", (await AuthorizeErrorAsync(new Dictionary<string, string?> { ["code_challenge_method"] = null }))["error"]);
    }

    [Fact]
    public async Task ResponseType_Token_UnsupportedResponseType_WithState()
    {
        Dictionary<string, string> callback = await AuthorizeErrorAsync(new Dictionary<string, string?> { ["response_type"] = "token", ["state"] = "abc" });

        Assert.Equal("unsupported_response_type", callback["error"]);
        Assert.Equal("abc", callback["state"]);
    }

    [Fact]
    public async Task Scope_AdminOrUnknown_InvalidScope()
    {
        Assert.Equal("invalid_scope", (await AuthorizeErrorAsync(new Dictionary<string, string?> { ["scope"] = "openid latchkey:admin" }))["error"]);
        Assert.Equal("invalid_scope", (await AuthorizeErrorAsync(new Dictionary<string, string?> { ["scope"] = "openid billing" }))["error"]);
    }

    [Fact]
    public async Task RequestObjects_NotSupported()
    {
        Assert.Equal("request_not_supported", (await AuthorizeErrorAsync(new Dictionary<string, string?> { ["request"] = "eyJhbGciOiJub25lIn0.e30." }))["error"]);
    }

    // --- Errors that must not go back: an error page, never a redirect ---

    [Fact]
    public async Task UnknownClientId_ErrorPage_NoRedirect()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        await AssertErrorPageAsync(await _browser.GetAsync(BrowserFlow.AuthorizeUrl("nosuchapp", WebRedirect, challenge)), "not registered");
    }

    [Theory]
    [InlineData("https://app.example/callbacK")] // one character
    [InlineData("https://app.example/callback/")]
    [InlineData("https://app.example/callback#frag")]
    [InlineData("https://app.example/callback?x=1")]
    [InlineData("http://app.example/callback")] // http for a non-loopback host
    [InlineData("https://evil.example/callback")]
    public async Task RedirectUri_NotExactlyARegisteredOne_ErrorPage_NoRedirect(string redirectUri)
    {
        (_, string challenge) = BrowserFlow.Pkce();
        await AssertErrorPageAsync(await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", redirectUri, challenge)), "has not registered");
    }

    [Fact]
    public async Task RedirectUri_Missing_ErrorPage()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        await AssertErrorPageAsync(await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge,
            new Dictionary<string, string?> { ["redirect_uri"] = null })), "redirect_uri is missing");
    }

    [Fact]
    public async Task RepeatedParameter_ErrorPage()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        await AssertErrorPageAsync(await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge) + "&state=again"), "repeated");
    }

    [Fact]
    public async Task NativeClient_LoopbackRedirect_AnyPort_ButTheRestExact()
    {
        (string verifier, string challenge) = BrowserFlow.Pkce();
        const string withPort = "http://127.0.0.1:53123/callback";
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("native", withPort, challenge));
        using HttpResponseMessage consent = await _browser.LoginAsync(page, "alice", Password);
        string code = BrowserFlow.Callback(await _browser.SubmitAsync(consent, new Dictionary<string, string> { ["decision"] = "allow" }), withPort)["code"];
        await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("native", code, withPort, verifier));

        await AssertErrorPageAsync(await _browser.GetAsync(BrowserFlow.AuthorizeUrl("native", "http://127.0.0.1:53123/callbackx", challenge)), "has not registered");
        await AssertErrorPageAsync(await _browser.GetAsync(BrowserFlow.AuthorizeUrl("native", "http://localhost:53123/callback", challenge)), "has not registered");
        await AssertErrorPageAsync(await _browser.GetAsync(BrowserFlow.AuthorizeUrl("native", "http://127.0.0.2:53123/callback", challenge)), "has not registered");
    }

    [Theory]
    [InlineData("http://app.example/callback", "loopback")]
    [InlineData("https://app.example/callback#x", "fragment")]
    [InlineData("/callback", "absolute")]
    [InlineData("javascript:alert(1)", "private-use scheme")]
    public async Task Registration_RedirectUriThatCouldLeakTheCode_IsRefused(string redirectUri, string reason)
    {
        ClientResult result = await _server.Services.GetRequiredService<ClientAccounts>().AddAsync("bad", ["authorization_code"], [], null, "test",
            CancellationToken.None, null, new BrowserSettings([redirectUri], [], Public: false, FirstParty: true));

        Assert.False(result.Succeeded);
        Assert.Contains(reason, result.Error);
    }

    // --- The forms ---

    [Fact]
    public async Task LoginForm_ForgedOrMissingAntiforgeryToken_ErrorPage_NoSession()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge));

        using HttpResponseMessage forged = await _browser.SubmitAsync(page, new Dictionary<string, string>
        {
            ["__antiforgery"] = "CfDJ8forged",
            ["username"] = "alice",
            ["password"] = Password,
        });
        await AssertErrorPageAsync(forged, "This form has expired");

        // A cross-site post: another site's page can send the fields, but not the antiforgery cookie's matching token.
        (string action, Dictionary<string, string> fields) = BrowserFlow.Form(await page.Content.ReadAsStringAsync());
        fields.Remove("__antiforgery");
        fields["username"] = "alice";
        fields["password"] = Password;
        await AssertErrorPageAsync(await _browser.Http.PostAsync(action, new FormUrlEncodedContent(fields)), "This form has expired");
        Assert.Null(_browser.SessionCookie);
    }

    [Fact]
    public async Task LoginForm_RequestTamperedToAnUnregisteredRedirect_ErrorPage()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge));
        (string action, Dictionary<string, string> fields) = BrowserFlow.Form(await page.Content.ReadAsStringAsync());
        fields["request"] = fields["request"].Replace(Uri.EscapeDataString(WebRedirect), Uri.EscapeDataString("https://evil.example/callback"));
        fields["username"] = "alice";
        fields["password"] = Password;

        await AssertErrorPageAsync(await _browser.Http.PostAsync(action, new FormUrlEncodedContent(fields)), "has not registered");
    }

    // --- Consent ---

    [Fact]
    public async Task ThirdPartyClient_ConsentPage_AllowGivesACode_DenyGivesAccessDenied()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage login = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("thirdparty", WebRedirect, challenge,
            new Dictionary<string, string?> { ["scope"] = "openid api", ["state"] = "c1" }));
        using HttpResponseMessage consent = await _browser.LoginAsync(login, "alice", Password);
        string html = await consent.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, consent.StatusCode);
        Assert.Contains(">Allow</button>", html);
        Assert.Contains(">Deny</button>", html);
        Assert.Contains("<code>api</code>", html);

        using HttpResponseMessage denied = await _browser.SubmitAsync(consent, new Dictionary<string, string> { ["decision"] = "deny" });
        Dictionary<string, string> deniedCallback = BrowserFlow.Callback(denied, WebRedirect);
        Assert.Equal("access_denied", deniedCallback["error"]);
        Assert.Equal("c1", deniedCallback["state"]);

        using HttpResponseMessage allowed = await _browser.SubmitAsync(consent, new Dictionary<string, string> { ["decision"] = "allow" });
        Assert.True(BrowserFlow.Callback(allowed, WebRedirect).ContainsKey("code"));
    }

    [Fact]
    public async Task ThirdPartyClient_PromptNone_ConsentRequired()
    {
        await CodeAsync(); // a session
        Assert.Equal("consent_required", (await AuthorizeErrorAsync(new Dictionary<string, string?> { ["prompt"] = "none" }, "thirdparty"))["error"]);
    }

    // --- Containment ---

    [Fact]
    public async Task DisablingTheUser_OrLoggingThemOut_EndsTheSignInSession()
    {
        await CodeAsync();
        var none = new Dictionary<string, string?> { ["prompt"] = "none" };
        (_, string challenge) = BrowserFlow.Pkce();
        using (HttpResponseMessage sso = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge, none)))
            Assert.True(BrowserFlow.Callback(sso, WebRedirect).ContainsKey("code"));

        _server.Time.Advance(TimeSpan.FromMilliseconds(5));
        Assert.True((await _server.Services.GetRequiredService<UserAccounts>().LogoutAsync("alice", "test", CancellationToken.None)).Succeeded);
        Assert.Equal("login_required", (await AuthorizeErrorAsync(none))["error"]);

        // A new login, then the user is disabled.
        await CodeAsync();
        _server.Time.Advance(TimeSpan.FromMilliseconds(5));
        Assert.True((await _server.Services.GetRequiredService<UserAccounts>().SetDisabledAsync("alice", true, "test", CancellationToken.None)).Succeeded);
        Assert.Equal("login_required", (await AuthorizeErrorAsync(none))["error"]);
        var audit = await _server.Services.GetRequiredService<Latchkey.Audit.AuditTrail>().ReadAsync(DateTimeOffset.MinValue, null, CancellationToken.None);
        Assert.Equal(2, audit.Count(e => e.Type == "session_started"));
        Assert.Contains(audit, e => e.Type == "tokens_cut_off" && e.Detail!.Contains("1 sign-in sessions ended"));
    }

    [Fact]
    public async Task NativePublicClient_IsAskedEveryTime_EvenFirstPartyAndAfterAllow_AndPromptNoneIsConsentRequired()
    {
        // Anything on the device can listen on a loopback port and claim to be this app (RFC 8252 §8.6).
        await CodeAsync("native", NativeRedirect);
        (_, string challenge) = BrowserFlow.Pkce();

        using HttpResponseMessage again = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("native", NativeRedirect, challenge));
        Assert.Contains(">Allow</button>", await again.Content.ReadAsStringAsync());
        using HttpResponseMessage silent = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("native", NativeRedirect, challenge,
            new Dictionary<string, string?> { ["prompt"] = "none" }));
        Assert.Equal("consent_required", BrowserFlow.Callback(silent, NativeRedirect)["error"]);
    }

    [Theory]
    [InlineData("multipart/form-data; boundary=x", "--x\r\nContent-Disposition: form-data; name=\"client_id\"\r\n\r\nwebapp\r\n--x--\r\n")]
    [InlineData("multipart/form-data", "no boundary")]
    [InlineData("text/plain", "client_id=webapp")]
    public async Task Authorize_PostThatIsNotAnUrlencodedForm_400Page(string contentType, string body)
    {
        var content = new StringContent(body);
        content.Headers.ContentType = System.Net.Http.Headers.MediaTypeHeaderValue.Parse(contentType);

        await AssertErrorPageAsync(await _browser.Http.PostAsync("/authorize", content), "must be a form");
    }

    [Fact]
    public async Task Authorize_PostWithTooManyFieldsOrTooLarge_400Page_Not500()
    {
        string many = string.Join('&', Enumerable.Range(0, 2000).Select(i => $"f{i}=x"));
        await AssertErrorPageAsync(await _browser.Http.PostAsync("/authorize", new StringContent(many, System.Text.Encoding.ASCII,
            "application/x-www-form-urlencoded")), "not valid");
        string large = "client_id=" + new string('a', 100_000);
        await AssertErrorPageAsync(await _browser.Http.PostAsync("/authorize", new StringContent(large, System.Text.Encoding.ASCII,
            "application/x-www-form-urlencoded")), "not valid");
        using HttpResponseMessage login = await _browser.Http.PostAsync("/authorize/login", new StringContent(many, System.Text.Encoding.ASCII,
            "application/x-www-form-urlencoded"));
        Assert.Equal(HttpStatusCode.BadRequest, login.StatusCode);
    }

    [Fact]
    public async Task Authorize_Post_IsAnsweredLikeGet_With303()
    {
        await CodeAsync(); // a session
        (_, string challenge) = BrowserFlow.Pkce();
        string query = new Uri(new Uri("http://x"), BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge)).Query.TrimStart('?');

        using HttpResponseMessage response = await _browser.Http.PostAsync("/authorize", new StringContent(query, System.Text.Encoding.ASCII,
            "application/x-www-form-urlencoded"));

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.True(BrowserFlow.Callback(response, WebRedirect).ContainsKey("code"));
    }

    [Fact]
    public async Task DisabledClient_ErrorPage()
    {
        Assert.True((await _server.Services.GetRequiredService<ClientAccounts>().SetDisabledAsync("webapp", true, "test", CancellationToken.None)).Succeeded);
        (_, string challenge) = BrowserFlow.Pkce();

        await AssertErrorPageAsync(await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge)), "disabled");
    }
}

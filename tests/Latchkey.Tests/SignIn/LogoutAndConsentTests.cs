using System.Net;
using System.Text.Json;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.SignIn;

/// <summary>
/// RP-Initiated Logout (the end-session endpoint) and remembered consent, over real HTTP: what logout ends and what it
/// leaves, and that a consent given once is not asked again until it is withdrawn.
/// </summary>
public sealed class LogoutAndConsentTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private const string WebRedirect = "https://app.example/callback";
    private const string AfterLogout = "https://app.example/signed-out";

    private LatchkeyTestServer _server = null!;
    private BrowserFlow _browser = null!;
    private string _webSecret = null!;
    private string _thirdSecret = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", Password);
        await _server.AddUserAsync("root", Password, "admin");
        _webSecret = (await BrowserFlow.AddBrowserClientAsync(_server, "webapp", [WebRedirect], postLogoutRedirectUris: [AfterLogout]))!;
        _thirdSecret = (await BrowserFlow.AddBrowserClientAsync(_server, "thirdparty", [WebRedirect], firstParty: false, scopes: ["api", "billing"]))!;
        _browser = new BrowserFlow(_server);
    }

    public async ValueTask DisposeAsync()
    {
        _browser.Dispose();
        await _server.DisposeAsync();
    }

    /// <summary>Signs alice in to webapp (the login page when needed) and returns its tokens.</summary>
    private async Task<JsonElement> TokensAsync(string clientId = "webapp", string? secret = null, IDictionary<string, string?>? extra = null)
    {
        (string verifier, string challenge) = BrowserFlow.Pkce();
        HttpResponseMessage response = await _browser.GetAsync(BrowserFlow.AuthorizeUrl(clientId, WebRedirect, challenge, extra));
        if (response.StatusCode == HttpStatusCode.OK && (await response.Content.ReadAsStringAsync()).Contains("current-password"))
            response = await _browser.LoginAsync(response, "alice", Password);
        if (response.StatusCode == HttpStatusCode.OK && (await response.Content.ReadAsStringAsync()).Contains(">Allow</button>"))
            response = await _browser.SubmitAsync(response, new Dictionary<string, string> { ["decision"] = "allow" });
        string code = BrowserFlow.Callback(response, WebRedirect)["code"];
        return await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync(clientId, code, WebRedirect, verifier, secret ?? _webSecret));
    }

    private async Task<bool> SignedInAsync()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage response = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge,
            new Dictionary<string, string?> { ["prompt"] = "none" }));
        return BrowserFlow.Callback(response, WebRedirect).ContainsKey("code");
    }

    [Fact]
    public async Task Logout_WithIdTokenHint_EndsTheSession_RevokesItsRefreshTokens_AndReturnsWithState()
    {
        JsonElement tokens = await TokensAsync();
        string idToken = tokens.GetProperty("id_token").GetString()!;
        // A password-grant login of the same user, outside the browser session: logout of the session leaves it alone.
        (string otherAccess, string otherRefresh) = await _server.LoginAsync("alice", Password);

        using HttpResponseMessage response = await _browser.GetAsync("/logout?" + Query(("id_token_hint", idToken), ("post_logout_redirect_uri", AfterLogout),
            ("state", "bye")));

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.Equal(AfterLogout + "?state=bye", response.Headers.Location!.OriginalString);
        Assert.False(await SignedInAsync());
        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(tokens.GetProperty("refresh_token").GetString()!, ("webapp", _webSecret)),
            HttpStatusCode.BadRequest, "invalid_grant");
        using (HttpResponseMessage userinfo = await _server.GetWithBearerAsync("/userinfo", tokens.GetProperty("access_token").GetString()!))
            Assert.Equal(HttpStatusCode.Unauthorized, userinfo.StatusCode);
        using (HttpResponseMessage other = await _server.GetWithBearerAsync("/userinfo", otherAccess))
            Assert.Equal(HttpStatusCode.OK, other.StatusCode);
        await HttpAssert.OkJsonAsync(await _server.RefreshAsync(otherRefresh));
    }

    [Fact]
    public async Task Logout_WithoutAHint_AsksFirst_SignOutEnds_StaySignedInKeeps()
    {
        await TokensAsync();

        using HttpResponseMessage page = await _browser.GetAsync("/logout");
        string html = await page.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains(">Sign out</button>", html);
        Assert.Contains("<strong>alice</strong>", html);
        Assert.True(await SignedInAsync(), "showing the page signs no one out");

        using HttpResponseMessage stay = await _browser.SubmitAsync(page, new Dictionary<string, string> { ["decision"] = "stay" });
        Assert.Contains("still signed in", await stay.Content.ReadAsStringAsync());
        Assert.True(await SignedInAsync());

        using HttpResponseMessage signOut = await _browser.SubmitAsync(page, new Dictionary<string, string> { ["decision"] = "logout" });
        Assert.Equal(HttpStatusCode.OK, signOut.StatusCode);
        Assert.Contains("You are signed out", await signOut.Content.ReadAsStringAsync());
        Assert.False(await SignedInAsync());
    }

    [Fact]
    public async Task Logout_ConfirmationWithAForgedAntiforgeryToken_ErrorPage_StillSignedIn()
    {
        await TokensAsync();
        using HttpResponseMessage page = await _browser.GetAsync("/logout");

        using HttpResponseMessage forged = await _browser.SubmitAsync(page, new Dictionary<string, string> { ["decision"] = "logout", ["__antiforgery"] = "forged" });

        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.True(await SignedInAsync());
    }

    [Fact]
    public async Task Logout_PostLogoutRedirectUriNotRegistered_ErrorPage_NoRedirect()
    {
        string idToken = (await TokensAsync()).GetProperty("id_token").GetString()!;

        foreach (string uri in new[] { "https://evil.example/", AfterLogout + "x", WebRedirect })
        {
            using HttpResponseMessage response = await _browser.GetAsync("/logout?" + Query(("id_token_hint", idToken), ("post_logout_redirect_uri", uri)));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Null(response.Headers.Location);
        }

        // Without a hint or client_id, no redirect can be checked: refused too.
        using HttpResponseMessage anonymous = await _browser.GetAsync("/logout?" + Query(("post_logout_redirect_uri", AfterLogout)));
        Assert.Equal(HttpStatusCode.BadRequest, anonymous.StatusCode);
        Assert.True(await SignedInAsync());
    }

    [Fact]
    public async Task Logout_TamperedIdTokenHint_ErrorPage_StillSignedIn()
    {
        string idToken = (await TokensAsync()).GetProperty("id_token").GetString()!;
        string[] parts = idToken.Split('.');
        string payload = Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Decode(parts[1]).Replace("\"webapp\"", "\"thirdparty\"");
        string tampered = parts[0] + "." + Microsoft.IdentityModel.Tokens.Base64UrlEncoder.Encode(payload) + "." + parts[2];
        // An access token is not an id token either.
        string access = (await TokensAsync()).GetProperty("access_token").GetString()!;

        // By POST, as RP-Initiated Logout allows: the test host logs request lines (with their query) at Debug, and an access
        // token in one would fail the suite's log-secrecy check. (latchkey serve keeps ASP.NET Core's request lines out of its log.)
        foreach (string hint in new[] { tampered, access, "not.a.token" })
        {
            using HttpResponseMessage response = await _browser.Http.PostAsync("/logout", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["id_token_hint"] = hint,
                ["post_logout_redirect_uri"] = AfterLogout,
            }));
            Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
            Assert.Contains("id_token_hint", await response.Content.ReadAsStringAsync());
        }

        Assert.True(await SignedInAsync());
    }

    [Fact]
    public async Task Logout_ExpiredIdTokenHint_StillAccepted()
    {
        string idToken = (await TokensAsync()).GetProperty("id_token").GetString()!;
        _server.Time.Advance(TimeSpan.FromMinutes(29)); // past the id token's 30 minutes? not yet; then one more use keeps the session alive
        Assert.True(await SignedInAsync());
        _server.Time.Advance(TimeSpan.FromMinutes(5)); // the id token has expired; the session has not

        using HttpResponseMessage response = await _browser.GetAsync("/logout?" + Query(("id_token_hint", idToken), ("post_logout_redirect_uri", AfterLogout)));

        Assert.Equal(HttpStatusCode.Found, response.StatusCode);
        Assert.False(await SignedInAsync());
    }

    [Fact]
    public async Task Logout_CrossSitePostWithoutTheCookie_ChangesNothing()
    {
        await TokensAsync();
        using var otherSite = new HttpClient { BaseAddress = _server.BaseAddress };

        using HttpResponseMessage response = await otherSite.PostAsync("/logout", new FormUrlEncodedContent(new Dictionary<string, string>()));

        Assert.False(response.Headers.Contains("Set-Cookie"), "no cookie was sent, so none is cleared");
        Assert.True(await SignedInAsync());
    }

    [Fact]
    public async Task Forms_WorkAcrossARestart_TheirProtectionIsKeyedByTheMasterKey()
    {
        string dataDirectory = Directory.CreateTempSubdirectory("latchkey-restart-").FullName;
        try
        {
            string html;
            Dictionary<string, string> form;
            string action;
            using var browser = new BrowserFlow(_server); // a cookie jar; its base address changes with the server below
            var jar = new System.Net.CookieContainer();
            (string verifier, string challenge) = BrowserFlow.Pkce();
            string url = BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge);
            Uri first;
            await using (LatchkeyTestServer before = await LatchkeyTestServer.StartAsync(dataDirectory: dataDirectory))
            {
                await before.AddUserAsync("carol", Password);
                await BrowserFlow.AddBrowserClientAsync(before, "webapp", [WebRedirect]);
                using var handler = new HttpClientHandler { CookieContainer = jar, AllowAutoRedirect = false };
                using var http = new HttpClient(handler) { BaseAddress = before.BaseAddress };
                using HttpResponseMessage page = await http.GetAsync(url);
                html = await page.Content.ReadAsStringAsync();
                (action, form) = BrowserFlow.Form(html);
                first = before.BaseAddress;
            }

            await using LatchkeyTestServer after = await LatchkeyTestServer.StartAsync(dataDirectory: dataDirectory);
            using var handler2 = new HttpClientHandler { UseCookies = false, AllowAutoRedirect = false };
            using var http2 = new HttpClient(handler2) { BaseAddress = after.BaseAddress };
            form["username"] = "carol";
            form["password"] = Password;
            SecretsSeen.Record(Password, "a password");
            using var post = new HttpRequestMessage(HttpMethod.Post, action) { Content = new FormUrlEncodedContent(form) };
            post.Headers.Add("Cookie", jar.GetCookieHeader(first));
            using HttpResponseMessage response = await http2.SendAsync(post);

            Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
            Assert.True(BrowserFlow.Callback(response, WebRedirect).ContainsKey("code"));
        }
        finally
        {
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    [Fact]
    public async Task Consent_OfARemovedClient_IsNotInheritedByANewClientOfTheSameName()
    {
        await TokensAsync("thirdparty", _thirdSecret, new Dictionary<string, string?> { ["scope"] = "openid api" });
        Latchkey.Clients.ClientAccounts clients = _server.Services.GetRequiredService<Latchkey.Clients.ClientAccounts>();
        Assert.True((await clients.RemoveAsync("thirdparty", "test", CancellationToken.None)).Succeeded);
        await BrowserFlow.AddBrowserClientAsync(_server, "thirdparty", [WebRedirect], firstParty: false, scopes: ["api"]);

        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage response = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("thirdparty", WebRedirect, challenge,
            new Dictionary<string, string?> { ["scope"] = "openid api" }));
        Assert.Contains(">Allow</button>", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Refresh_KeepsTheOpenIdScopes_AndWithoutProfileNoUsernameInTheAccessToken()
    {
        JsonElement tokens = await TokensAsync(extra: new Dictionary<string, string?> { ["scope"] = "openid api" });
        Assert.False(HttpAssert.Part(tokens.GetProperty("access_token").GetString()!, 1).TryGetProperty("preferred_username", out _));

        JsonElement refreshed = await HttpAssert.OkJsonAsync(await _server.RefreshAsync(tokens.GetProperty("refresh_token").GetString()!, ("webapp", _webSecret)));

        Assert.Equal("openid api", refreshed.GetProperty("scope").GetString());
        Assert.False(HttpAssert.Part(refreshed.GetProperty("access_token").GetString()!, 1).TryGetProperty("preferred_username", out _));
        JsonElement info = await HttpAssert.OkJsonAsync(await _server.GetWithBearerAsync("/userinfo", refreshed.GetProperty("access_token").GetString()!));
        Assert.Equal(["sub"], info.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task Consent_GivenOnce_NotAskedAgain_ButAgainForMoreScopes_OrWithPromptConsent()
    {
        await TokensAsync("thirdparty", _thirdSecret, new Dictionary<string, string?> { ["scope"] = "openid api" });

        (_, string challenge) = BrowserFlow.Pkce();
        using (HttpResponseMessage again = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("thirdparty", WebRedirect, challenge,
                   new Dictionary<string, string?> { ["scope"] = "openid api" })))
            Assert.True(BrowserFlow.Callback(again, WebRedirect).ContainsKey("code"), "the same scopes are not asked again");

        using (HttpResponseMessage more = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("thirdparty", WebRedirect, challenge,
                   new Dictionary<string, string?> { ["scope"] = "openid api billing" })))
            Assert.Contains(">Allow</button>", await more.Content.ReadAsStringAsync());

        using (HttpResponseMessage forced = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("thirdparty", WebRedirect, challenge,
                   new Dictionary<string, string?> { ["scope"] = "openid api", ["prompt"] = "consent" })))
            Assert.Contains(">Allow</button>", await forced.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task Consent_ListedAndWithdrawnThroughTheAdminApi_RevokesTheClientsRefreshTokens_AndAsksAgain()
    {
        JsonElement tokens = await TokensAsync("thirdparty", _thirdSecret, new Dictionary<string, string?> { ["scope"] = "openid api" });
        string admin = await _server.GetAdminTokenAsync("root", Password);

        using HttpResponseMessage list = await AdminHttp.SendAsync(_server.Client, HttpMethod.Get, "/admin/users/alice/consents", admin);
        JsonElement consent = Assert.Single((await AdminHttp.JsonAsync(list, HttpStatusCode.OK)).EnumerateArray());
        Assert.Equal("thirdparty", consent.GetProperty("client_id").GetString());
        Assert.Equal(["openid", "api"], consent.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));

        using HttpResponseMessage revoke = await AdminHttp.SendAsync(_server.Client, HttpMethod.Delete, "/admin/users/alice/consents/thirdparty", admin);
        Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        await HttpAssert.OAuthErrorAsync(await _server.RefreshAsync(tokens.GetProperty("refresh_token").GetString()!, ("thirdparty", _thirdSecret)),
            HttpStatusCode.BadRequest, "invalid_grant");
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage asked = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("thirdparty", WebRedirect, challenge,
            new Dictionary<string, string?> { ["scope"] = "openid api" }));
        Assert.Contains(">Allow</button>", await asked.Content.ReadAsStringAsync());

        using HttpResponseMessage again = await AdminHttp.SendAsync(_server.Client, HttpMethod.Delete, "/admin/users/alice/consents/thirdparty", admin);
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task Consent_Withdrawn_VoidsACodeSentButNotYetRedeemed()
    {
        await TokensAsync("thirdparty", _thirdSecret, new Dictionary<string, string?> { ["scope"] = "openid api" });
        (string verifier, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage silent = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("thirdparty", WebRedirect, challenge,
            new Dictionary<string, string?> { ["scope"] = "openid api" }));
        string code = BrowserFlow.Callback(silent, WebRedirect)["code"]; // consent remembered: a code at once

        (string? error, _) = await _server.Services.GetRequiredService<Latchkey.Accounts.Consents>().RevokeAsync("alice", "thirdparty", "test", CancellationToken.None);
        Assert.Null(error);

        await HttpAssert.OAuthErrorAsync(await _browser.ExchangeAsync("thirdparty", code, WebRedirect, verifier, _thirdSecret),
            HttpStatusCode.BadRequest, "invalid_grant");
    }

    private static string Query(params (string Name, string Value)[] parameters) =>
        string.Join('&', parameters.Select(p => p.Name + "=" + Uri.EscapeDataString(p.Value)));
}

using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Latchkey.Clients;
using Latchkey.Keys;
using Latchkey.Tests.Support;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Latchkey.Tests.SignIn;

/// <summary>
/// Browser sign-in end to end over real HTTP: <c>/authorize</c>, the hosted login page, the session cookie, the code and its
/// exchange at <c>/token</c>, the id token (checked with Microsoft.IdentityModel against the JWKS).
/// </summary>
public sealed class AuthorizationCodeFlowTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private const string WebRedirect = "https://app.example/callback";
    private const string SpaRedirect = "https://spa.example/callback";

    private LatchkeyTestServer _server = null!;
    private BrowserFlow _browser = null!;
    private string _webSecret = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", Password);
        _webSecret = (await BrowserFlow.AddBrowserClientAsync(_server, "webapp", [WebRedirect]))!;
        await BrowserFlow.AddBrowserClientAsync(_server, "spa", [SpaRedirect], isPublic: true);
        _browser = new BrowserFlow(_server);
    }

    public async ValueTask DisposeAsync()
    {
        _browser.Dispose();
        await _server.DisposeAsync();
    }

    /// <summary>
    /// Verifies an id token with Microsoft.IdentityModel, an independent implementation: our issuer, <paramref name="audience"/>,
    /// only <paramref name="algorithm"/>, one of <paramref name="keys"/> (read from the JWKS).
    /// </summary>
    private static async Task AssertValidIdTokenAsync(string idToken, string audience, string algorithm, IEnumerable<SecurityKey> keys, bool anyTime = false)
    {
        TokenValidationResult result = await new JsonWebTokenHandler().ValidateTokenAsync(idToken, new TokenValidationParameters
        {
            ValidIssuer = LatchkeyTestServer.Issuer,
            ValidAudience = audience,
            IssuerSigningKeys = keys,
            ValidAlgorithms = [algorithm],
            // The fake clock may have moved past the real one's "now", which the handler reads.
            LifetimeValidator = anyTime ? (_, _, _, _) => true : null,
        });
        Assert.True(result.IsValid, result.Exception?.Message);
    }

    /// <summary>Signs alice in through the login page and returns the callback's parameters.</summary>
    private async Task<Dictionary<string, string>> SignInAsync(string clientId, string redirectUri, string challenge, IDictionary<string, string?>? extra = null)
    {
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl(clientId, redirectUri, challenge, extra));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        using HttpResponseMessage afterLogin = await _browser.LoginAsync(page, "alice", Password);
        return BrowserFlow.Callback(afterLogin, redirectUri);
    }

    [Fact]
    public async Task ConfidentialClient_LoginPageThenCodeThenTokens_IdTokenVerifiesAgainstTheJwks()
    {
        (string verifier, string challenge) = BrowserFlow.Pkce();
        string url = BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge, new Dictionary<string, string?> { ["state"] = "xyz", ["nonce"] = "n-0S6" });

        using HttpResponseMessage page = await _browser.GetAsync(url);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("text/html; charset=utf-8", page.Content.Headers.ContentType?.ToString());
        Assert.Contains("autocomplete=\"username webauthn\"", html);
        Assert.Contains("autocomplete=\"current-password\"", html);
        Assert.Contains("<html lang=\"en\">", html);

        using HttpResponseMessage afterLogin = await _browser.LoginAsync(page, "alice", Password);
        Assert.Equal(HttpStatusCode.SeeOther, afterLogin.StatusCode); // RFC 9700 §4.12: 303 after a form post
        Dictionary<string, string> callback = BrowserFlow.Callback(afterLogin, WebRedirect);
        Assert.Equal("xyz", callback["state"]);
        Assert.Equal(LatchkeyTestServer.Issuer, callback["iss"]); // RFC 9207
        Assert.Equal(43, callback["code"].Length); // 256 bits

        JsonElement tokens = await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("webapp", callback["code"], WebRedirect, verifier, _webSecret));
        string access = tokens.GetProperty("access_token").GetString()!;
        string idToken = tokens.GetProperty("id_token").GetString()!;
        Assert.StartsWith("lk_rt_", tokens.GetProperty("refresh_token").GetString());
        Assert.Equal("openid profile", tokens.GetProperty("scope").GetString());

        // The id token, verified by an independent library against the published keys.
        string jwks = await _server.Client.GetStringAsync("/.well-known/jwks.json");
        await AssertValidIdTokenAsync(idToken, "webapp", "RS256", new JsonWebKeySet(jwks).GetSigningKeys());
        JsonElement id = HttpAssert.Part(idToken, 1);
        JsonElement at = HttpAssert.Part(access, 1);
        Assert.Equal("JWT", HttpAssert.Part(idToken, 0).GetProperty("typ").GetString());
        // RS256 from the id tokens' own key, beside the ES256 key that signs the access token (Core §15.1).
        Assert.Equal("RS256", HttpAssert.Part(idToken, 0).GetProperty("alg").GetString());
        Assert.Equal("ES256", HttpAssert.Part(access, 0).GetProperty("alg").GetString());
        Assert.NotEqual(HttpAssert.Part(access, 0).GetProperty("kid").GetString(), HttpAssert.Part(idToken, 0).GetProperty("kid").GetString());
        Assert.Equal(at.GetProperty("sub").GetString(), id.GetProperty("sub").GetString());
        Assert.Equal("n-0S6", id.GetProperty("nonce").GetString());
        Assert.Equal("alice", id.GetProperty("preferred_username").GetString());
        Assert.True(id.GetProperty("sid").GetString()!.Length >= 16);
        long authTime = id.GetProperty("auth_time").GetInt64();
        Assert.InRange(authTime, _server.Time.GetUtcNow().ToUnixTimeSeconds() - 5, _server.Time.GetUtcNow().ToUnixTimeSeconds());
        byte[] hash = SHA256.HashData(Encoding.ASCII.GetBytes(access));
        Assert.Equal(Base64UrlEncoder.Encode(hash[..16]), id.GetProperty("at_hash").GetString());

        // The access token works at /userinfo, as the same user.
        using HttpResponseMessage userinfo = await _server.GetWithBearerAsync("/userinfo", access);
        Assert.Equal(id.GetProperty("sub").GetString(), (await HttpAssert.OkJsonAsync(userinfo)).GetProperty("sub").GetString());
    }

    [Fact]
    public async Task ProfileAndEmailScopes_IdTokenAndUserInfoShowWhatTheyAllow_UserInfoFollowsTheAccount()
    {
        Latchkey.Accounts.UserAccounts accounts = _server.Services.GetRequiredService<Latchkey.Accounts.UserAccounts>();
        Assert.True((await accounts.SetProfileAsync("alice", new Latchkey.Accounts.UserProfile("alice@example.com", "Alice Liddell", EmailVerified: true), "test",
            CancellationToken.None)).Succeeded);
        (string verifier, string challenge) = BrowserFlow.Pkce();
        Dictionary<string, string> callback = await SignInAsync("webapp", WebRedirect, challenge,
            new Dictionary<string, string?> { ["scope"] = "openid profile email" });
        JsonElement tokens = await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("webapp", callback["code"], WebRedirect, verifier, _webSecret));

        JsonElement id = HttpAssert.Part(tokens.GetProperty("id_token").GetString()!, 1);
        Assert.Equal("alice", id.GetProperty("preferred_username").GetString());
        Assert.Equal("Alice Liddell", id.GetProperty("name").GetString());
        Assert.Equal("alice@example.com", id.GetProperty("email").GetString());
        Assert.True(id.GetProperty("email_verified").GetBoolean());

        string access = tokens.GetProperty("access_token").GetString()!;
        JsonElement info = await HttpAssert.OkJsonAsync(await _server.GetWithBearerAsync("/userinfo", access));
        Assert.Equal(["sub", "preferred_username", "name", "email", "email_verified"], info.EnumerateObject().Select(p => p.Name));
        Assert.Equal(id.GetProperty("sub").GetString(), info.GetProperty("sub").GetString());

        // /userinfo reads the account as it is now.
        Assert.True((await accounts.SetProfileAsync("alice", new Latchkey.Accounts.UserProfile("new@example.com", null), "test", CancellationToken.None)).Succeeded);
        info = await HttpAssert.OkJsonAsync(await _server.GetWithBearerAsync("/userinfo", access));
        Assert.Equal(["sub", "preferred_username", "email", "email_verified"], info.EnumerateObject().Select(p => p.Name));
        Assert.False(info.GetProperty("email_verified").GetBoolean());
    }

    [Fact]
    public async Task OpenIdScopeAlone_IdTokenAndUserInfoHaveNoProfile()
    {
        (string verifier, string challenge) = BrowserFlow.Pkce();
        Dictionary<string, string> callback = await SignInAsync("webapp", WebRedirect, challenge, new Dictionary<string, string?> { ["scope"] = "openid" });
        JsonElement tokens = await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("webapp", callback["code"], WebRedirect, verifier, _webSecret));

        Assert.False(HttpAssert.Part(tokens.GetProperty("id_token").GetString()!, 1).TryGetProperty("preferred_username", out _));
        JsonElement info = await HttpAssert.OkJsonAsync(await _server.GetWithBearerAsync("/userinfo", tokens.GetProperty("access_token").GetString()!));
        Assert.Equal(["sub"], info.EnumerateObject().Select(p => p.Name));
    }

    [Fact]
    public async Task WithoutOpenId_NoIdToken()
    {
        (string verifier, string challenge) = BrowserFlow.Pkce();
        Dictionary<string, string> callback = await SignInAsync("webapp", WebRedirect, challenge, new Dictionary<string, string?> { ["scope"] = "api" });
        JsonElement tokens = await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("webapp", callback["code"], WebRedirect, verifier, _webSecret));

        Assert.False(tokens.TryGetProperty("id_token", out _));
        Assert.Equal("api", tokens.GetProperty("scope").GetString());
    }

    [Fact]
    public async Task PublicClient_NoSecret_PkceAlone_GetsTokens_AndSecondAuthorizeSkipsTheLoginPage()
    {
        (string verifier, string challenge) = BrowserFlow.Pkce();
        Dictionary<string, string> first = await SignInAsync("spa", SpaRedirect, challenge);
        await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("spa", first["code"], SpaRedirect, verifier));

        // Single sign-on: the session cookie takes the next request straight back to the app.
        (string verifier2, string challenge2) = BrowserFlow.Pkce();
        using HttpResponseMessage again = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("spa", SpaRedirect, challenge2));
        Assert.Equal(HttpStatusCode.Found, again.StatusCode);
        Dictionary<string, string> second = BrowserFlow.Callback(again, SpaRedirect);
        JsonElement tokens = await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("spa", second["code"], SpaRedirect, verifier2));
        Assert.Equal(HttpAssert.Part(tokens.GetProperty("id_token").GetString()!, 1).GetProperty("sid").GetString(),
            HttpAssert.Part(tokens.GetProperty("id_token").GetString()!, 1).GetProperty("sid").GetString());
    }

    [Fact]
    public async Task SessionCookie_IsHttpOnlySameSiteLax_AndTheSameSessionAcrossApps()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge));
        using HttpResponseMessage afterLogin = await _browser.LoginAsync(page, "alice", Password);

        string setCookie = afterLogin.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("latchkey-session=", StringComparison.Ordinal));
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", setCookie, StringComparison.OrdinalIgnoreCase);
        // The http test issuer: not Secure, not __Host- (an https issuer gets both: HttpsIssuer_SessionCookieIsHostPrefixedAndSecure).
        Assert.DoesNotContain("secure", setCookie, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task HmacDeployment_IdTokensAreRs256_VerifiableFromTheJwks_WhileAccessTokensStayHs256()
    {
        await using LatchkeyTestServer hmac = await LatchkeyTestServer.StartAsync(o =>
        {
            o.SigningAlgorithm = "HS256";
            o.HmacSecret = "0123456789abcdef0123456789abcdef";
        });
        await hmac.AddUserAsync("alice", Password);
        string secret = (await BrowserFlow.AddBrowserClientAsync(hmac, "webapp", [WebRedirect]))!;
        using var browser = new BrowserFlow(hmac);
        (string verifier, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge));
        using HttpResponseMessage afterLogin = await browser.LoginAsync(page, "alice", Password);

        JsonElement tokens = await HttpAssert.OkJsonAsync(await browser.ExchangeAsync("webapp", BrowserFlow.Callback(afterLogin, WebRedirect)["code"], WebRedirect, verifier, secret));

        string idToken = tokens.GetProperty("id_token").GetString()!;
        Assert.Equal("HS256", HttpAssert.Part(tokens.GetProperty("access_token").GetString()!, 0).GetProperty("alg").GetString());
        Assert.Equal("RS256", HttpAssert.Part(idToken, 0).GetProperty("alg").GetString());
        await AssertValidIdTokenAsync(idToken, "webapp", "RS256", new JsonWebKeySet(await hmac.Client.GetStringAsync("/.well-known/jwks.json")).GetSigningKeys());
    }

    [Fact]
    public async Task ClientRegisteredEs256_GetsIdTokensSignedByTheAccessTokenKey_VerifiableFromTheJwks()
    {
        string secret = (await BrowserFlow.AddBrowserClientAsync(_server, "fast", [WebRedirect], idTokenAlgorithm: "ES256"))!;
        (string verifier, string challenge) = BrowserFlow.Pkce();
        Dictionary<string, string> callback = await SignInAsync("fast", WebRedirect, challenge);

        JsonElement tokens = await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("fast", callback["code"], WebRedirect, verifier, secret));

        string idToken = tokens.GetProperty("id_token").GetString()!;
        string access = tokens.GetProperty("access_token").GetString()!;
        Assert.Equal("ES256", HttpAssert.Part(idToken, 0).GetProperty("alg").GetString());
        Assert.Equal(HttpAssert.Part(access, 0).GetProperty("kid").GetString(), HttpAssert.Part(idToken, 0).GetProperty("kid").GetString());
        await AssertValidIdTokenAsync(idToken, "fast", "ES256", new JsonWebKeySet(await _server.Client.GetStringAsync("/.well-known/jwks.json")).GetSigningKeys());
        // Still an id token, never an access token: its typ is JWT, not at+jwt.
        Assert.Equal(HttpStatusCode.Unauthorized, (await _server.GetWithBearerAsync("/userinfo", idToken)).StatusCode);
    }

    [Theory]
    [InlineData("HS256")] // the server's secret is never shared with a relying party
    [InlineData("PS256")] // Latchkey keeps no PS256 key here
    [InlineData("none")]
    [InlineData("rs256")]
    public async Task ClientRegisteringAnIdTokenAlgorithmLatchkeyCannotSign_IsRefused(string algorithm)
    {
        ClientResult result = await _server.Services.GetRequiredService<ClientAccounts>().AddAsync("odd", ["authorization_code"], ["api"], null, "test",
            CancellationToken.None, null, new BrowserSettings([WebRedirect], [], Public: false, FirstParty: true) { IdTokenAlgorithm = algorithm });

        Assert.False(result.Succeeded);
        Assert.Contains("use RS256 or ES256", result.Error);
        Assert.DoesNotContain(await _server.Services.GetRequiredService<ClientAccounts>().ListAsync(CancellationToken.None), c => c.ClientId == "odd");
    }

    [Fact]
    public async Task IdTokenKeyRotation_IdTokensMoveToTheNewKeyAfterTheLead_AndBothVerifyMeanwhile()
    {
        (string verifier, string challenge) = BrowserFlow.Pkce();
        var rotation = _server.Services.GetRequiredService<KeyRotation>();
        Dictionary<string, string> first = await SignInAsync("webapp", WebRedirect, challenge);
        string before = (await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("webapp", first["code"], WebRedirect, verifier, _webSecret))).GetProperty("id_token").GetString()!;

        SigningKeyInfo added = await rotation.RotateAsync(Latchkey.Storage.SigningKeyPurposes.IdToken, null, "test", CancellationToken.None);
        await _server.Services.GetRequiredService<SigningKeyRing>().RefreshAsync(CancellationToken.None);
        _server.Time.Advance(rotation.PublicationLead);
        (verifier, challenge) = BrowserFlow.Pkce();
        Dictionary<string, string> second = await SignInAsync("webapp", WebRedirect, challenge, new Dictionary<string, string?> { ["prompt"] = "login" });
        string after = (await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("webapp", second["code"], WebRedirect, verifier, _webSecret))).GetProperty("id_token").GetString()!;

        Assert.NotEqual(added.KeyId, HttpAssert.Part(before, 0).GetProperty("kid").GetString());
        Assert.Equal(added.KeyId, HttpAssert.Part(after, 0).GetProperty("kid").GetString());
        IList<SecurityKey> published = new JsonWebKeySet(await _server.Client.GetStringAsync("/.well-known/jwks.json")).GetSigningKeys();
        foreach (string idToken in new[] { before, after })
        {
            await AssertValidIdTokenAsync(idToken, "webapp", "RS256", published, anyTime: true);
        }
    }

    [Fact]
    public async Task HttpsIssuer_SessionCookieIsHostPrefixedAndSecure()
    {
        await using LatchkeyTestServer https = await LatchkeyTestServer.StartAsync(o => o.Issuer = "https://login.example");
        await https.AddUserAsync("alice", Password);
        await BrowserFlow.AddBrowserClientAsync(https, "webapp", [WebRedirect]);
        using var browser = new BrowserFlow(https);
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge));
        // The antiforgery cookie is __Host- and Secure too; over this test's plain http the client would not send it back, so
        // post the form with it by hand.
        string antiforgery = page.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-latchkey-antiforgery=", StringComparison.Ordinal));
        Assert.Contains("secure", antiforgery, StringComparison.OrdinalIgnoreCase);
        (string action, Dictionary<string, string> form) = BrowserFlow.Form(await page.Content.ReadAsStringAsync());
        form["username"] = "alice";
        form["password"] = Password;
        using var post = new HttpRequestMessage(HttpMethod.Post, action) { Content = new FormUrlEncodedContent(form) };
        post.Headers.Add("Cookie", antiforgery.Split(';')[0]);
        using HttpResponseMessage afterLogin = await browser.Http.SendAsync(post);

        Assert.Equal(HttpStatusCode.SeeOther, afterLogin.StatusCode);
        string session = afterLogin.Headers.GetValues("Set-Cookie").Single(c => c.StartsWith("__Host-latchkey-session=", StringComparison.Ordinal));
        Assert.Contains("secure", session, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("path=/", session, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("domain=", session, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public async Task SessionId_ChangesAtEveryLogin_AndTheOldSessionEnds()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        await SignInAsync("webapp", WebRedirect, challenge);
        string first = _browser.SessionCookie!;

        await SignInAsync("webapp", WebRedirect, challenge, new Dictionary<string, string?> { ["prompt"] = "login" });
        string second = _browser.SessionCookie!;
        Assert.NotEqual(first, second);

        // The old cookie no longer signs anyone in.
        using var stale = new BrowserFlow(_server);
        stale.Cookies.Add(_server.BaseAddress, new Cookie("latchkey-session", first));
        using HttpResponseMessage page = await stale.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge));
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Contains("Sign in", await page.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task PromptLogin_AndMaxAgeZero_ShowTheLoginPageDespiteASession()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        await SignInAsync("webapp", WebRedirect, challenge);

        foreach (var extra in new[] { new Dictionary<string, string?> { ["prompt"] = "login" }, new Dictionary<string, string?> { ["max_age"] = "0" } })
        {
            _server.Time.Advance(TimeSpan.FromSeconds(2));
            using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge, extra));
            Assert.Equal(HttpStatusCode.OK, page.StatusCode);
            Assert.Contains("autocomplete=\"current-password\"", await page.Content.ReadAsStringAsync());
        }

        // max_age larger than the session's age: no login page.
        using HttpResponseMessage sso = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge,
            new Dictionary<string, string?> { ["max_age"] = "3600" }));
        Assert.Equal(HttpStatusCode.Found, sso.StatusCode);
    }

    [Fact]
    public async Task PromptNone_WithoutASession_RedirectsLoginRequiredWithStateAndIss()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage response = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge,
            new Dictionary<string, string?> { ["prompt"] = "none", ["state"] = "s1" }));

        Dictionary<string, string> callback = BrowserFlow.Callback(response, WebRedirect);
        Assert.Equal("login_required", callback["error"]);
        Assert.Equal("s1", callback["state"]);
        Assert.Equal(LatchkeyTestServer.Issuer, callback["iss"]);
        Assert.False(callback.ContainsKey("code"));
    }

    [Fact]
    public async Task ExpiredSession_IdleTimeoutPassed_ShowsTheLoginPageAgain()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        await SignInAsync("webapp", WebRedirect, challenge);

        _server.Time.Advance(TimeSpan.FromMinutes(31)); // the idle timeout is 30 minutes
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge,
            new Dictionary<string, string?> { ["prompt"] = "none" }));
        Assert.Equal("login_required", BrowserFlow.Callback(page, WebRedirect)["error"]);
    }

    [Fact]
    public async Task Session_UsedWithinTheIdleTimeout_LivesOn_UntilItsAbsoluteLifetime()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        await SignInAsync("webapp", WebRedirect, challenge);
        var none = new Dictionary<string, string?> { ["prompt"] = "none" };

        for (int i = 0; i < 20; i++) // 10 hours less 20 seconds of use, every 30 minutes less a second
        {
            _server.Time.Advance(TimeSpan.FromMinutes(30) - TimeSpan.FromSeconds(1));
            using HttpResponseMessage used = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge, none));
            Assert.True(BrowserFlow.Callback(used, WebRedirect).ContainsKey("code"), $"use {i}");
        }

        _server.Time.Advance(TimeSpan.FromMinutes(1)); // used a minute ago, but 10 hours since the login have passed
        using HttpResponseMessage expired = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge, none));
        Assert.Equal("login_required", BrowserFlow.Callback(expired, WebRedirect)["error"]);
    }

    [Fact]
    public async Task FormPost_ResponseMode_PostsTheCodeToTheRedirectUri()
    {
        (string verifier, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge,
            new Dictionary<string, string?> { ["response_mode"] = "form_post", ["state"] = "fp" }));
        using HttpResponseMessage response = await _browser.LoginAsync(page, "alice", Password);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        string html = await response.Content.ReadAsStringAsync();
        (string action, Dictionary<string, string> fields) = BrowserFlow.Form(html);
        Assert.Equal(WebRedirect, action);
        Assert.Equal("fp", fields["state"]);
        Assert.Equal(LatchkeyTestServer.Issuer, fields["iss"]);
        SecretsSeen.Record(fields["code"], "an authorization code");
        string csp = response.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("form-action 'self' https://app.example", csp);
        Assert.Contains("script-src 'nonce-", csp);
        await HttpAssert.OkJsonAsync(await _browser.ExchangeAsync("webapp", fields["code"], WebRedirect, verifier, _webSecret));
    }

    [Fact]
    public async Task LoginHint_FillsInTheUsername_AndIsEncoded()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge,
            new Dictionary<string, string?> { ["login_hint"] = "alice\"><script>x</script>" }));
        string html = await page.Content.ReadAsStringAsync();

        Assert.Contains("value=\"alice&quot;&gt;&lt;script&gt;x&lt;/script&gt;\"", html);
        Assert.DoesNotContain("<script>x", html);
    }

    [Fact]
    public async Task LoginPage_CannotBeFramed_NorCached()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge));

        Assert.Equal("DENY", page.Headers.GetValues("X-Frame-Options").Single());
        string csp = page.Headers.GetValues("Content-Security-Policy").Single();
        Assert.Contains("frame-ancestors 'none'", csp);
        Assert.Contains("default-src 'none'", csp);
        // The one script is the passkey script, loaded from Latchkey by this response's nonce: no other, and none inline.
        string nonce = System.Text.RegularExpressions.Regex.Match(csp, "script-src 'nonce-([^']+)';").Groups[1].Value;
        Assert.NotEmpty(nonce);
        string html = await page.Content.ReadAsStringAsync();
        Assert.Equal([$"<script nonce=\"{nonce}\" src=\"/signin/passkeys.js\"></script>"],
            System.Text.RegularExpressions.Regex.Matches(html, "<script[^>]*>[^<]*</script>").Select(m => m.Value));
        Assert.Equal("no-store", page.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task WrongPassword_GenericErrorOnTheLoginPage_NoRedirectNoSession()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge));
        using HttpResponseMessage wrong = await _browser.LoginAsync(page, "alice", "not her password");
        using HttpResponseMessage unknown = await _browser.LoginAsync(page, "nobody", "not her password");

        foreach (HttpResponseMessage response in new[] { wrong, unknown })
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Null(response.Headers.Location);
            Assert.Contains("The username or password is incorrect.", await response.Content.ReadAsStringAsync());
        }

        Assert.Null(_browser.SessionCookie);
    }

    [Fact]
    public async Task LoginForm_GuessedRepeatedly_IsThrottledLikeThePasswordGrant()
    {
        (_, string challenge) = BrowserFlow.Pkce();
        using HttpResponseMessage page = await _browser.GetAsync(BrowserFlow.AuthorizeUrl("webapp", WebRedirect, challenge));
        HttpStatusCode last = HttpStatusCode.OK;
        for (int i = 0; i < 11; i++)
        {
            using HttpResponseMessage guess = await _browser.LoginAsync(page, "alice", "guess number " + i);
            last = guess.StatusCode;
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, last);
        // The right password is refused while locked: the lock is the same one the password grant sees.
        using HttpResponseMessage right = await _browser.LoginAsync(page, "alice", Password);
        Assert.Equal(HttpStatusCode.TooManyRequests, right.StatusCode);
        Assert.Contains("Too many attempts", await right.Content.ReadAsStringAsync());
        using HttpResponseMessage grant = await _server.PostTokenAsync("alice", Password);
        Assert.Equal(HttpStatusCode.TooManyRequests, grant.StatusCode);
    }
}

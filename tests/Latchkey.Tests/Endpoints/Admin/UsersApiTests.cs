using System.Net;
using System.Text.Json;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints.Admin;

/// <summary>/admin/users over real HTTP: for role admin only, and what an admin changes is what /token then honours.</summary>
public sealed class UsersApiTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("root", Password, "admin");
        await _server.AddUserAsync("alice", Password, "billing");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private async Task<HttpResponseMessage> AdminAsync(HttpMethod method, string path, string? json = null) =>
        await AdminHttp.SendAsync(_server.Client, method, path, await _server.GetAdminTokenAsync("root", Password), json);

    private async Task<HttpStatusCode> LoginStatusAsync(string username, string password)
    {
        using HttpResponseMessage response = await _server.PostTokenAsync(username, password);
        return response.StatusCode;
    }

    private async Task<JsonElement> UserAsync(string username)
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Get, "/admin/users");
        return (await HttpAssert.OkJsonAsync(response)).EnumerateArray().Single(u => u.GetProperty("username").GetString() == username);
    }

    private Task<HttpResponseMessage> RefreshAsync(string refreshToken) =>
        _server.Client.PostAsync("/token", new FormUrlEncodedContent(new Dictionary<string, string>
        {
            ["grant_type"] = "refresh_token",
            ["refresh_token"] = refreshToken,
        }), TestContext.Current.CancellationToken);

    [Fact]
    public async Task ListUsers_AdminToken_ListsEveryUserWithoutPasswordHashes()
    {
        string token = await _server.GetAdminTokenAsync("root", Password);

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/admin/users", token);

        JsonElement body = await HttpAssert.OkJsonAsync(response);
        Assert.Equal(["alice", "root"], body.EnumerateArray().Select(u => u.GetProperty("username").GetString()));
        Assert.Equal(["id", "username", "roles", "disabled", "created_at", "tokens_valid_after", "email", "email_verified", "name"], body[0].EnumerateObject().Select(p => p.Name));
        Assert.DoesNotContain("argon2", body.GetRawText());
    }

    [Fact]
    public async Task ListUsers_NonAdminToken_403Problem()
    {
        string token = await _server.GetAccessTokenAsync("alice", Password);

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/admin/users", token);

        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task ListUsers_NoToken_401()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/admin/users");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task ListUsers_RoleRemovedAfterLogin_OldTokenRefusedAtOnceAndNoNewAdminToken()
    {
        string token = await _server.GetAdminTokenAsync("root", Password);
        await _server.Services.GetRequiredService<Latchkey.Accounts.UserAccounts>().ChangeRolesAsync("root", [], ["admin"], "test", CancellationToken.None);

        using HttpResponseMessage old = await _server.GetWithBearerAsync("/admin/users", token);
        Assert.Equal(HttpStatusCode.Unauthorized, old.StatusCode);

        using HttpResponseMessage fresh = await _server.PostTokenAsync("root", Password, Latchkey.Protocol.Scopes.Admin);
        await HttpAssert.OAuthErrorAsync(fresh, HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Fact]
    public async Task SetProfile_EmailAndName_ShownInTheSummary_AndABadAddressIs400()
    {
        await _server.AddUserAsync("bob", "correct horse battery");
        string token = await _server.GetAdminTokenAsync("root", Password);

        using HttpResponseMessage set = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, "/admin/users/bob/profile", token,
            """{"email": "bob@example.com", "name": "Bob", "email_verified": true}""");
        JsonElement body = await AdminHttp.JsonAsync(set, HttpStatusCode.OK);
        Assert.Equal("bob@example.com", body.GetProperty("email").GetString());
        Assert.True(body.GetProperty("email_verified").GetBoolean());
        Assert.Equal("Bob", body.GetProperty("name").GetString());

        using HttpResponseMessage bad = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, "/admin/users/bob/profile", token, """{"email": "bob"}""");
        Assert.Contains("is not an e-mail address", await AdminHttp.ProblemAsync(bad, HttpStatusCode.BadRequest));
    }

    [Fact]
    public async Task CreateUser_ValidBody_201SummaryAndTheUserCanLogIn()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/users",
            """{"username": "Carol", "password": "carols password", "roles": ["ops", "billing"]}""");

        JsonElement body = await AdminHttp.JsonAsync(response, HttpStatusCode.Created);
        Assert.Equal(["id", "username", "roles", "disabled", "created_at", "tokens_valid_after", "email", "email_verified", "name"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal("carol", body.GetProperty("username").GetString());
        Assert.Equal(["ops", "billing"], body.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.False(body.GetProperty("disabled").GetBoolean());
        string token = await _server.GetAccessTokenAsync("carol", "carols password");
        JsonElement claims = HttpAssert.Part(token, 1);
        Assert.Equal(body.GetProperty("id").GetString(), claims.GetProperty("sub").GetString());
    }

    [Fact]
    public async Task CreateUser_ExistingName_409AndTheFirstPasswordStillWorks()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/users", """{"username": "ALICE", "password": "another password"}""");

        Assert.Contains("already exists", await AdminHttp.ProblemAsync(response, HttpStatusCode.Conflict));
        Assert.Equal(HttpStatusCode.OK, await LoginStatusAsync("alice", Password));
        Assert.Equal(HttpStatusCode.BadRequest, await LoginStatusAsync("alice", "another password"));
    }

    [Theory]
    [InlineData("""{"username": "bad name", "password": "long enough password"}""", "not a valid username")]
    [InlineData("""{"username": "carol", "password": "1234567"}""", "at least 8 characters")]
    [InlineData("""{"username": "carol", "password": "long enough password", "roles": ["bad role"]}""", "not a valid role")]
    [InlineData("""{"username": "carol", "password": "long enough password", "roles": [null]}""", "list of strings")]
    [InlineData("""{"username": "carol"}""", "password")]
    [InlineData("""{"username": "carol", "password": "long enough password", "role": ["admin"]}""", "role")]
    [InlineData("""{"username": "carol", """, "not valid JSON")]
    public async Task CreateUser_InvalidBody_400ProblemAndNobodyAdded(string json, string detail)
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/users", json);

        Assert.Contains(detail, await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest));
        using HttpResponseMessage list = await AdminAsync(HttpMethod.Get, "/admin/users");
        Assert.Equal(["alice", "root"], (await HttpAssert.OkJsonAsync(list)).EnumerateArray().Select(u => u.GetProperty("username").GetString()));
    }

    private async Task<string> LoginForRefreshTokenAsync(string username)
    {
        using HttpResponseMessage login = await _server.PostTokenAsync(username, Password);
        return (await HttpAssert.OkJsonAsync(login)).GetProperty("refresh_token").GetString()!;
    }

    [Fact]
    public async Task DisableUser_KnownUser_200AndTheirRefreshTokenFails()
    {
        string refreshToken = await LoginForRefreshTokenAsync("alice");

        using (HttpResponseMessage disable = await AdminAsync(HttpMethod.Post, "/admin/users/alice/disable"))
            Assert.True((await AdminHttp.JsonAsync(disable, HttpStatusCode.OK)).GetProperty("disabled").GetBoolean());

        using (HttpResponseMessage refresh = await RefreshAsync(refreshToken))
            await HttpAssert.OAuthErrorAsync(refresh, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Equal(HttpStatusCode.BadRequest, await LoginStatusAsync("alice", Password));
        Assert.True((await UserAsync("alice")).GetProperty("disabled").GetBoolean());
    }

    [Fact]
    public async Task DisableThenEnableUser_RefreshTokenFromBefore_StillRevokedButANewLoginWorks()
    {
        // Not presented while disabled: only the revocation done by disabling can make it fail.
        string refreshToken = await LoginForRefreshTokenAsync("alice");

        using (HttpResponseMessage disable = await AdminAsync(HttpMethod.Post, "/admin/users/alice/disable"))
            Assert.Equal(HttpStatusCode.OK, disable.StatusCode);
        using (HttpResponseMessage enable = await AdminAsync(HttpMethod.Post, "/admin/users/alice/enable"))
            Assert.False((await AdminHttp.JsonAsync(enable, HttpStatusCode.OK)).GetProperty("disabled").GetBoolean());

        using (HttpResponseMessage refresh = await RefreshAsync(refreshToken))
            await HttpAssert.OAuthErrorAsync(refresh, HttpStatusCode.BadRequest, "invalid_grant");
        _server.Time.Advance(TimeSpan.FromMilliseconds(1)); // a login in the very millisecond of the cut-off is refused too
        using (HttpResponseMessage refresh = await RefreshAsync(await LoginForRefreshTokenAsync("alice")))
            await HttpAssert.OkJsonAsync(refresh);
    }

    [Fact]
    public async Task ChangeRoles_AddAndRemove_200WithTheNewRolesInTheNextToken()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/users/alice/roles", """{"add": ["ops"], "remove": ["billing"]}""");

        JsonElement body = await AdminHttp.JsonAsync(response, HttpStatusCode.OK);
        Assert.Equal(["ops"], body.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        JsonElement claims = HttpAssert.Part(await _server.GetAccessTokenAsync("alice", Password), 1);
        Assert.Equal(["ops"], claims.GetProperty("role").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task ChangeRoles_InvalidRole_400AndRolesUnchanged()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/users/alice/roles", """{"add": ["bad role"], "remove": ["billing"]}""");

        Assert.Contains("not a valid role", await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest));
        Assert.Equal(["billing"], (await UserAsync("alice")).GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
    }

    [Fact]
    public async Task SetPassword_KnownUser_204OldPasswordRefusedNewOneAccepted()
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/users/alice/password", """{"password": "alices new password"}""");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, await LoginStatusAsync("alice", Password));
        Assert.Equal(HttpStatusCode.OK, await LoginStatusAsync("alice", "alices new password"));
    }

    [Theory]
    [InlineData("""{"password": "short"}""", "at least 8 characters")]
    [InlineData("""{}""", "password")]
    [InlineData("""["alices new password"]""", "not valid JSON")]
    public async Task SetPassword_InvalidBody_400AndTheOldPasswordStillWorks(string json, string detail)
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, "/admin/users/alice/password", json);

        Assert.Contains(detail, await AdminHttp.ProblemAsync(response, HttpStatusCode.BadRequest));
        Assert.Equal(HttpStatusCode.OK, await LoginStatusAsync("alice", Password));
    }

    [Theory]
    [InlineData("/admin/users/mallory/disable", null)]
    [InlineData("/admin/users/mallory/enable", null)]
    [InlineData("/admin/users/mallory/roles", """{"add": ["ops"]}""")]
    [InlineData("/admin/users/mallory/password", """{"password": "long enough password"}""")]
    public async Task UserRoute_UnknownUser_404ProblemNamingThem(string path, string? json)
    {
        using HttpResponseMessage response = await AdminAsync(HttpMethod.Post, path, json);

        Assert.Contains("No user named 'mallory'", await AdminHttp.ProblemAsync(response, HttpStatusCode.NotFound));
    }

    public static TheoryData<string, string?> ChangeRoutes => new()
    {
        { "/admin/users", """{"username": "eve", "password": "long enough password", "roles": ["admin"]}""" },
        { "/admin/users/alice/disable", null },
        { "/admin/users/alice/roles", """{"add": ["admin"]}""" },
        { "/admin/users/alice/password", """{"password": "taken over password"}""" },
    };

    [Theory]
    [MemberData(nameof(ChangeRoutes))]
    public async Task UserChange_NonAdminToken_403ProblemAndNothingChanged(string path, string? json)
    {
        string token = await _server.GetAccessTokenAsync("alice", Password);

        using HttpResponseMessage response = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, path, token, json);

        await AdminHttp.ProblemAsync(response, HttpStatusCode.Forbidden);
        JsonElement alice = await UserAsync("alice");
        Assert.False(alice.GetProperty("disabled").GetBoolean());
        Assert.Equal(["billing"], alice.GetProperty("roles").EnumerateArray().Select(r => r.GetString()));
        Assert.Equal(HttpStatusCode.OK, await LoginStatusAsync("alice", Password));
        Assert.Equal(HttpStatusCode.BadRequest, await LoginStatusAsync("eve", "long enough password"));
    }

    [Theory]
    [MemberData(nameof(ChangeRoutes))]
    public async Task UserChange_NoToken_401BearerChallenge(string path, string? json)
    {
        using HttpResponseMessage response = await AdminHttp.SendAsync(_server.Client, HttpMethod.Post, path, token: null, json);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Bearer", response.Headers.WwwAuthenticate.Single().Scheme);
    }
}

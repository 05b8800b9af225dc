using System.Net;
using System.Text.Json;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints.Admin;

/// <summary>GET /admin/users: for role admin only.</summary>
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

    [Fact]
    public async Task ListUsers_AdminToken_ListsEveryUserWithoutPasswordHashes()
    {
        string token = await _server.GetAccessTokenAsync("root", Password);

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/admin/users", token);

        JsonElement body = await HttpAssert.OkJsonAsync(response);
        Assert.Equal(["alice", "root"], body.EnumerateArray().Select(u => u.GetProperty("username").GetString()));
        Assert.Equal(["id", "username", "roles", "disabled", "created_at"], body[0].EnumerateObject().Select(p => p.Name));
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
    public async Task ListUsers_RoleRemovedAfterLogin_StillAdminUntilTheTokenExpires()
    {
        // Access tokens are self-contained: this documents the trade-off of a 30-minute lifetime.
        string token = await _server.GetAccessTokenAsync("root", Password);
        await _server.Services.GetRequiredService<Latchkey.Accounts.UserAccounts>().ChangeRolesAsync("root", [], ["admin"], CancellationToken.None);

        using HttpResponseMessage old = await _server.GetWithBearerAsync("/admin/users", token);
        Assert.Equal(HttpStatusCode.OK, old.StatusCode);

        string fresh = await _server.GetAccessTokenAsync("root", Password);
        using HttpResponseMessage response = await _server.GetWithBearerAsync("/admin/users", fresh);
        Assert.Equal(HttpStatusCode.Forbidden, response.StatusCode);
    }
}

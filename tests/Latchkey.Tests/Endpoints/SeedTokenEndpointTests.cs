using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>GET /token: the seed tutorial's response shape, but only for a caller who proves who they are.</summary>
public sealed class SeedTokenEndpointTests : IAsyncLifetime
{
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("user123", "tutorial password", "admin");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private Task<HttpResponseMessage> GetTokenAsync(string? authorization)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/token");
        if (authorization is not null)
            request.Headers.TryAddWithoutValidation("Authorization", authorization);
        return _server.Client.SendAsync(request);
    }

    private static string Basic(string user, string password) => "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    [Fact]
    public async Task SeedToken_BasicCredentials_ReturnsTheSeedShape()
    {
        using HttpResponseMessage response = await GetTokenAsync(Basic("user123", "tutorial password"));

        JsonElement body = await HttpAssert.OkJsonAsync(response);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        Assert.Equal(["access_token", "token_type", "expires_in"], body.EnumerateObject().Select(p => p.Name));
        Assert.Equal("Bearer", body.GetProperty("token_type").GetString());
        Assert.Equal(1800, body.GetProperty("expires_in").GetInt64());
        JsonElement claims = HttpAssert.Part(body.GetProperty("access_token").GetString()!, 1);
        Assert.Equal("user123", claims.GetProperty("preferred_username").GetString());
        Assert.Equal("admin", claims.GetProperty("role")[0].GetString());
    }

    [Fact]
    public async Task SeedToken_Token_IsAcceptedByMe()
    {
        using HttpResponseMessage response = await GetTokenAsync(Basic("user123", "tutorial password"));
        string token = (await HttpAssert.OkJsonAsync(response)).GetProperty("access_token").GetString()!;

        using HttpResponseMessage me = await _server.GetWithBearerAsync("/me", token);

        Assert.Equal(HttpStatusCode.OK, me.StatusCode);
    }

    [Fact]
    public async Task SeedToken_PasswordWithColon_IsSplitAtTheFirstColon()
    {
        await _server.AddUserAsync("colon", "pass:with:colons");

        using HttpResponseMessage response = await GetTokenAsync(Basic("colon", "pass:with:colons"));

        await HttpAssert.OkJsonAsync(response);
    }

    [Fact]
    public async Task SeedToken_NoCredentials_401WithBasicChallenge()
    {
        using HttpResponseMessage response = await GetTokenAsync(null);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_request");
        Assert.Equal("Basic", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Theory]
    [InlineData("Basic ***")]
    [InlineData("Bearer something")]
    [InlineData("Basic dXNlcjEyMw==")] // "user123" with no colon
    public async Task SeedToken_MalformedAuthorization_401WithBasicChallenge(string header)
    {
        using HttpResponseMessage response = await GetTokenAsync(header);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_request");
        Assert.Equal("Basic", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task SeedToken_WrongPassword_SameInvalidGrantAsPostToken()
    {
        using HttpResponseMessage get = await GetTokenAsync(Basic("user123", "wrong"));
        using HttpResponseMessage post = await _server.PostTokenAsync("user123", "wrong");

        JsonElement a = await HttpAssert.OAuthErrorAsync(get, HttpStatusCode.BadRequest, "invalid_grant");
        JsonElement b = await HttpAssert.OAuthErrorAsync(post, HttpStatusCode.BadRequest, "invalid_grant");
        Assert.Equal(a.GetRawText(), b.GetRawText());
    }

    [Fact]
    public async Task SeedToken_Failures_CountTowardsTheSameThrottle()
    {
        for (int i = 0; i < 10; i++)
        {
            using HttpResponseMessage failed = await GetTokenAsync(Basic("user123", "wrong " + i));
            Assert.Equal(HttpStatusCode.BadRequest, failed.StatusCode);
        }

        using HttpResponseMessage response = await _server.PostTokenAsync("user123", "tutorial password");

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.TooManyRequests, "slow_down");
    }
}

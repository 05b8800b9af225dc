using System.Buffers.Text;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>GET /me and /userinfo: the caller's claims for a valid token; 401 with an RFC 6750 challenge otherwise.</summary>
public sealed class UserInfoEndpointTests : IAsyncLifetime
{
    private const string Password = "correct horse battery";
    private LatchkeyTestServer _server = null!;
    private string _token = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", Password, "admin");
        _token = await _server.GetAccessTokenAsync("alice", Password);
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    [Theory]
    [InlineData("/me")]
    [InlineData("/userinfo")]
    public async Task Me_ValidToken_ReturnsItsClaims(string path)
    {
        using HttpResponseMessage response = await _server.GetWithBearerAsync(path, _token);

        JsonElement body = await HttpAssert.OkJsonAsync(response);
        Assert.Equal(HttpAssert.Part(_token, 1).GetRawText(), body.GetRawText());
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
    }

    [Fact]
    public async Task Me_NoToken_401WithBareBearerChallenge()
    {
        using HttpResponseMessage response = await _server.Client.GetAsync("/me");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        AuthenticationHeaderValue challenge = response.Headers.WwwAuthenticate.Single();
        Assert.Equal("Bearer", challenge.Scheme);
        // RFC 6750 §3.1: no error code when the request had no token.
        Assert.DoesNotContain("error=", challenge.Parameter);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Theory]
    [InlineData("Bearer")]
    [InlineData("Bearer ")]
    [InlineData("Bearer a b")]
    public async Task Me_MalformedHeader_401InvalidRequest(string header)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, "/me");
        request.Headers.TryAddWithoutValidation("Authorization", header);

        using HttpResponseMessage response = await _server.Client.SendAsync(request);

        AssertChallenge(response, "invalid_request");
    }

    [Theory]
    [InlineData("not-a-jwt")]
    [InlineData("a.b.c")]
    [InlineData("eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.")]
    public async Task Me_MalformedToken_401InvalidToken(string token)
    {
        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", token);

        AssertChallenge(response, "invalid_token");
    }

    [Fact]
    public async Task Me_ExpiredWithinLeeway_IsAccepted()
    {
        // Expired 29 s ago with 30 s of leeway for clock skew.
        _server.Time.Advance(TimeSpan.FromMinutes(30) + TimeSpan.FromSeconds(29));

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", _token);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    [Fact]
    public async Task Me_ExpiredBeyondLeeway_401InvalidToken()
    {
        _server.Time.Advance(TimeSpan.FromMinutes(30) + TimeSpan.FromSeconds(30));

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", _token);

        AssertChallenge(response, "invalid_token");
    }

    [Fact]
    public async Task Me_TamperedClaims_401InvalidToken()
    {
        string[] parts = _token.Split('.');
        string claims = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(parts[1])).Replace("\"alice\"", "\"mallory\"");
        string forged = $"{parts[0]}.{Base64Url.EncodeToString(Encoding.UTF8.GetBytes(claims))}.{parts[2]}";

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", forged);

        AssertChallenge(response, "invalid_token");
    }

    [Fact]
    public async Task Me_SignedByAnotherKeyWithOurKid_401InvalidToken()
    {
        JsonElement header = HttpAssert.Part(_token, 0);
        using var attackerKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string forged = Jwt.Encode(JsonSerializer.Deserialize<Dictionary<string, object>>(HttpAssert.Part(_token, 1).GetRawText())!, attackerKey, "ES256",
            new Dictionary<string, object?> { ["typ"] = "at+jwt", ["kid"] = header.GetProperty("kid").GetString() });

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", forged);

        AssertChallenge(response, "invalid_token");
    }

    [Fact]
    public async Task Me_TokenForAnotherAudience_401InvalidToken()
    {
        // A second Latchkey on the same keys, issuing for another API: a valid signature, the wrong audience.
        await using LatchkeyTestServer other = await LatchkeyTestServer.StartAsync(o => o.Audience = "billing-api", _server.DataDirectory);
        string foreign = await other.GetAccessTokenAsync("alice", Password);
        using (HttpResponseMessage acceptedThere = await other.GetWithBearerAsync("/me", foreign))
            Assert.Equal(HttpStatusCode.OK, acceptedThere.StatusCode);

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", foreign);

        AssertChallenge(response, "invalid_token");
    }

    [Fact]
    public async Task Me_TokenFromAnotherIssuer_401InvalidToken()
    {
        await using LatchkeyTestServer other = await LatchkeyTestServer.StartAsync(o => o.Issuer = "http://elsewhere.test", _server.DataDirectory);
        string foreign = await other.GetAccessTokenAsync("alice", Password);

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", foreign);

        AssertChallenge(response, "invalid_token");
    }

    [Fact]
    public async Task Me_RefusedToken_IsLoggedWithReasonButNotTheToken()
    {
        _server.Time.Advance(TimeSpan.FromHours(1));

        using HttpResponseMessage response = await _server.GetWithBearerAsync("/me", _token);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Contains(_server.Logs, line => line.Contains("Bearer token refused: Expired"));
        Assert.DoesNotContain(_server.Logs, line => line.Contains(_token.Split('.')[2]));
    }

    private static void AssertChallenge(HttpResponseMessage response, string error)
    {
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        AuthenticationHeaderValue challenge = response.Headers.WwwAuthenticate.Single();
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Contains($"error=\"{error}\"", challenge.Parameter);
        Assert.Contains("realm=\"latchkey\"", challenge.Parameter);
    }
}

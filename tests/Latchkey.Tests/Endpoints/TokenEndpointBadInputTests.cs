using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Latchkey.Storage;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>Bad requests to POST /token get a clear 4xx §5.2 error, never a 500, and change nothing.</summary>
public sealed class TokenEndpointBadInputTests : IAsyncLifetime
{
    private LatchkeyTestServer _server = null!;

    public async ValueTask InitializeAsync()
    {
        _server = await LatchkeyTestServer.StartAsync();
        await _server.AddUserAsync("alice", "correct horse battery");
    }

    public ValueTask DisposeAsync() => _server.DisposeAsync();

    private Task<HttpResponseMessage> PostRawAsync(byte[] body, string? contentType = "application/x-www-form-urlencoded", Action<HttpRequestMessage>? configure = null)
    {
        var content = new ByteArrayContent(body);
        if (contentType is not null)
            content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        var request = new HttpRequestMessage(HttpMethod.Post, "/token") { Content = content };
        configure?.Invoke(request);
        return _server.Client.SendAsync(request);
    }

    private Task<HttpResponseMessage> PostRawAsync(string body, string? contentType = "application/x-www-form-urlencoded", Action<HttpRequestMessage>? configure = null) =>
        PostRawAsync(Encoding.UTF8.GetBytes(body), contentType, configure);

    [Fact]
    public async Task Token_EmptyBody_InvalidRequest()
    {
        using HttpResponseMessage response = await PostRawAsync("");
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_NoContentType_InvalidRequest()
    {
        using HttpResponseMessage response = await PostRawAsync("grant_type=password&username=alice&password=x", contentType: null);
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_JsonBody_InvalidRequest()
    {
        using HttpResponseMessage response = await PostRawAsync("""{"grant_type":"password","username":"alice","password":"correct horse battery"}""", "application/json");
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_MultipartBody_InvalidRequest()
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/token")
        {
            Content = new MultipartFormDataContent { { new StringContent("password"), "grant_type" } },
        };
        using HttpResponseMessage response = await _server.Client.SendAsync(request);
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_BodyOver64KiB_PayloadTooLarge()
    {
        string body = "grant_type=password&username=alice&password=x&pad=" + new string('a', 64 * 1024);
        using HttpResponseMessage response = await PostRawAsync(body);
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "invalid_request");
    }

    [Fact]
    public async Task Token_ChunkedBodyOver64KiB_PayloadTooLarge()
    {
        // No Content-Length: the limit must hold while reading, not only from the header.
        var content = new StreamContent(new MemoryStream(Encoding.ASCII.GetBytes("grant_type=password&pad=" + new string('a', 70 * 1024))));
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-www-form-urlencoded");
        var request = new HttpRequestMessage(HttpMethod.Post, "/token") { Content = content };
        request.Headers.TransferEncodingChunked = true;

        using HttpResponseMessage response = await _server.Client.SendAsync(request);

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.RequestEntityTooLarge, "invalid_request");
    }

    [Theory]
    [InlineData("grant_type=password&username=%FF%FE&password=x")] // percent-encoded bytes that are not UTF-8
    [InlineData("grant_type=password&username=alice&password=%E2%82")] // truncated UTF-8 sequence
    [InlineData("grant_type=password&username=%ZZ&password=x")] // not a percent escape at all
    public async Task Token_NotUtf8Form_InvalidRequest(string body)
    {
        using HttpResponseMessage response = await PostRawAsync(body);
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_RawNonUtf8Bytes_InvalidRequest()
    {
        byte[] body = [.. "grant_type=password&username=alice&password="u8, 0xC3, 0x28];
        using HttpResponseMessage response = await PostRawAsync(body);
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_MissingGrantType_InvalidRequest()
    {
        using HttpResponseMessage response = await PostRawAsync("username=alice&password=correct+horse+battery");
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Theory]
    [InlineData("magic")]
    [InlineData("urn:ietf:params:oauth:grant-type:jwt-bearer")]
    public async Task Token_UnsupportedGrantType_UnsupportedGrantType(string grantType)
    {
        using HttpResponseMessage response = await PostRawAsync($"grant_type={Uri.EscapeDataString(grantType)}&username=alice&password=x");
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unsupported_grant_type");
    }

    [Fact]
    public async Task Token_GrantTheFirstPartyClientMayNotUse_UnauthorizedClient()
    {
        using HttpResponseMessage response = await PostRawAsync("grant_type=client_credentials");
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "unauthorized_client");
    }

    [Theory]
    [InlineData("grant_type=password&username=alice&scope=api%00")]
    [InlineData("grant_type=password&username=alice&scope=api%0Aadmin")]
    [InlineData("grant_type=password&username=alice&scope=api++admin")]
    [InlineData("grant_type=password&username=alice&scope=%22api%22")]
    public async Task Token_MalformedScope_InvalidScope(string body)
    {
        using HttpResponseMessage response = await PostRawAsync(body + "&password=correct+horse+battery");
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_scope");
    }

    [Theory]
    [InlineData("grant_type=password&username=alice&username=bob&password=correct+horse+battery")]
    [InlineData("grant_type=password&grant_type=password&username=alice&password=correct+horse+battery")]
    [InlineData("grant_type=password&username=alice&password=correct+horse+battery&scope=api&scope=")]
    public async Task Token_RepeatedParameter_InvalidRequest(string body)
    {
        using HttpResponseMessage response = await PostRawAsync(body);
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_MissingPassword_InvalidRequest()
    {
        using HttpResponseMessage response = await PostRawAsync("grant_type=password&username=alice&password=");
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Theory]
    [InlineData("Basic !!!not-base64!!!")]
    [InlineData("Basic ")]
    [InlineData("Basic bm9jb2xvbg==")] // "nocolon"
    [InlineData("Bearer abc.def.ghi")]
    [InlineData("Digest username=\"alice\"")]
    public async Task Token_MalformedAuthorizationHeader_InvalidClientWithBasicChallenge(string header)
    {
        using HttpResponseMessage response = await PostRawAsync("grant_type=password&username=alice&password=correct+horse+battery",
            configure: r => r.Headers.TryAddWithoutValidation("Authorization", header));

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.Unauthorized, "invalid_client");
        Assert.Equal("Basic", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task Token_ClientAuthenticatedTwoWays_InvalidRequest()
    {
        using HttpResponseMessage response = await PostRawAsync("grant_type=password&username=alice&password=correct+horse+battery&client_secret=s",
            configure: r => r.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String("default:s"u8.ToArray())));
        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_Username10000Characters_InvalidRequest()
    {
        using HttpResponseMessage response = await _server.PostTokenAsync(new string('a', 10_000), "whatever password");

        await HttpAssert.OAuthErrorAsync(response, HttpStatusCode.BadRequest, "invalid_request");
    }

    [Fact]
    public async Task Token_ManyBadRequests_ChangeNothing()
    {
        string[] bodies =
        [
            "", "grant_type=password&username=alice&username=alice&password=x", "grant_type=password&username=%FF&password=x",
            "username=alice&password=x", "grant_type=nope&username=alice&password=x", "grant_type=password&username=alice",
        ];
        IReadOnlyList<UserRecord> before = await _server.Services.GetRequiredService<IUserStore>().ListAsync(CancellationToken.None);

        foreach (string body in bodies)
        {
            using HttpResponseMessage response = await PostRawAsync(body);
            Assert.InRange((int)response.StatusCode, 400, 499);
        }

        IReadOnlyList<UserRecord> after = await _server.Services.GetRequiredService<IUserStore>().ListAsync(CancellationToken.None);
        Assert.Equal(before, after, (x, y) => x.Id == y.Id && x.PasswordHash == y.PasswordHash && x.Disabled == y.Disabled && x.Roles.SequenceEqual(y.Roles));
        LoginThrottleCounts counts = await _server.Services.GetRequiredService<ILoginThrottleStore>().ReadAsync(
            _server.Services.GetRequiredService<Latchkey.Accounts.LoginThrottle>().UserKey("alice"), "127.0.0.1",
            DateTimeOffset.MinValue, DateTimeOffset.MinValue, DateTimeOffset.MinValue, CancellationToken.None);
        Assert.Equal(0, counts.StreakFailures);
        Assert.Equal(0, counts.UsernameFailures);
        Assert.Equal(0, counts.AddressFailures);
        await _server.GetAccessTokenAsync("alice", "correct horse battery");
    }

    [Fact]
    public async Task Token_WrongMethod_IsNotA500()
    {
        using HttpResponseMessage response = await _server.Client.PutAsync("/token", new StringContent("x"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
    }
}

using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Latchkey.Clients;

namespace Latchkey.Tests.Support;

/// <summary>Form posts to /token, /revoke and /introspect, and registering clients, for the refresh/client tests.</summary>
public static class OAuthRequests
{
    public static async Task<string> AddClientAsync(this LatchkeyTestServer server, string clientId, string[] grants, string[]? scopes = null, string? audience = null,
        string? introspection = null)
    {
        ClientResult result = await server.Services.GetRequiredService<ClientAccounts>()
            .AddAsync(clientId, grants, scopes ?? [], audience, "test", CancellationToken.None, introspection);
        Assert.True(result.Succeeded, result.Error);
        SecretsSeen.Record(result.Secret, "a client secret");
        return result.Secret!;
    }

    /// <summary>POSTs a form; <paramref name="basic"/> adds client_secret_basic credentials.</summary>
    public static Task<HttpResponseMessage> PostFormAsync(this LatchkeyTestServer server, string path, IDictionary<string, string> form,
        (string Id, string Secret)? basic = null, HttpClient? client = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = new FormUrlEncodedContent(form) };
        if (basic is { } b)
        {
            // RFC 6749 §2.3.1: id and secret are form-urlencoded before Basic encoding.
            string pair = Uri.EscapeDataString(b.Id) + ":" + Uri.EscapeDataString(b.Secret);
            request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes(pair)));
        }

        return (client ?? server.Client).SendAsync(request);
    }

    public static Task<HttpResponseMessage> RefreshAsync(this LatchkeyTestServer server, string refreshToken, (string Id, string Secret)? basic = null, string? scope = null)
    {
        var form = new Dictionary<string, string> { ["grant_type"] = "refresh_token", ["refresh_token"] = refreshToken };
        if (scope is not null)
            form["scope"] = scope;
        return server.PostFormAsync("/token", form, basic);
    }

    /// <summary>Logs in through the first-party client and returns the access and refresh tokens.</summary>
    public static async Task<(string Access, string Refresh)> LoginAsync(this LatchkeyTestServer server, string username, string password, string? scope = null)
    {
        using HttpResponseMessage response = await server.PostTokenAsync(username, password, scope);
        JsonElement body = await HttpAssert.OkJsonAsync(response);
        return (body.GetProperty("access_token").GetString()!, body.GetProperty("refresh_token").GetString()!);
    }

    public static async Task<(string Access, string Refresh)> PairAsync(HttpResponseMessage response)
    {
        JsonElement body = await HttpAssert.OkJsonAsync(response);
        return (body.GetProperty("access_token").GetString()!, body.GetProperty("refresh_token").GetString()!);
    }
}

using System.Net;
using System.Text.Json;

namespace Latchkey.Tests.Support;

/// <summary>Assertions on the wire contract: status, headers and the RFC 6749 §5.2 body, in full.</summary>
public static class HttpAssert
{
    /// <summary>Asserts a §5.2 error: status, <c>error</c>, a non-empty description, JSON, and <c>Cache-Control: no-store</c>.</summary>
    public static async Task<JsonElement> OAuthErrorAsync(HttpResponseMessage response, HttpStatusCode status, string error)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"expected {(int)status}, got {(int)response.StatusCode}: {body}");
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-store", response.Headers.CacheControl?.ToString());
        JsonElement json = JsonDocument.Parse(body).RootElement;
        Assert.Equal(error, json.GetProperty("error").GetString());
        Assert.False(string.IsNullOrWhiteSpace(json.GetProperty("error_description").GetString()));
        return json;
    }

    public static async Task<JsonElement> OkJsonAsync(HttpResponseMessage response)
    {
        string body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"expected 200, got {(int)response.StatusCode}: {body}");
        return JsonDocument.Parse(body).RootElement;
    }

    /// <summary>The claims of a JWT, read without verifying it (the test verifies elsewhere).</summary>
    public static JsonElement Part(string jwt, int index) =>
        JsonDocument.Parse(System.Buffers.Text.Base64Url.DecodeFromChars(jwt.Split('.')[index])).RootElement;
}

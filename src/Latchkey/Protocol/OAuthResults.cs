using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using Latchkey.Diagnostics;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Logging;

namespace Latchkey.Protocol;

/// <summary>
/// The one writer of token-endpoint responses. Every response, success or error, carries
/// <c>Cache-Control: no-store</c> (RFC 6749 §5.1): tokens must never sit in a shared cache.
/// </summary>
public static class OAuthResults
{
    public static TokenHttpResult Token(TokenResponse response) => new(response);

    public static OAuthErrorHttpResult Error(OAuthError error) => new(error);

    internal static void NoStore(HttpResponse response)
    {
        response.Headers.CacheControl = "no-store";
        response.Headers.Pragma = "no-cache";
    }

    /// <summary>
    /// Writes <paramref name="value"/> as the whole JSON body, with its Content-Length: serialized in one go, and sent in
    /// one write without chunked framing (WriteAsJsonAsync streams through an asynchronous serializer instead, which
    /// costs more on every token response: bench/README.md).
    /// </summary>
    internal static Task WriteJsonAsync<T>(HttpResponse response, T value, JsonTypeInfo<T> type)
    {
        byte[] body = JsonSerializer.SerializeToUtf8Bytes(value, type);
        response.ContentType = "application/json; charset=utf-8";
        response.ContentLength = body.Length;
        return response.Body.WriteAsync(body, 0, body.Length);
    }
}

/// <summary>200 with a <see cref="TokenResponse"/> body.</summary>
public sealed class TokenHttpResult(TokenResponse response) : IResult, IEndpointMetadataProvider
{
    public TokenResponse Response { get; } = response;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        OAuthResults.NoStore(httpContext.Response);
        httpContext.Response.StatusCode = StatusCodes.Status200OK;
        return OAuthResults.WriteJsonAsync(httpContext.Response, Response, LatchkeyJsonContext.Default.TokenResponse);
    }

    public static void PopulateMetadata(System.Reflection.MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status200OK, typeof(TokenResponse), ["application/json"]));
}

/// <summary>An RFC 6749 §5.2 error: <c>{"error", "error_description"}</c> with the error's status.</summary>
public sealed class OAuthErrorHttpResult(OAuthError error) : IResult, IEndpointMetadataProvider
{
    public OAuthError Error { get; } = error;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        HttpResponse response = httpContext.Response;
        OAuthResults.NoStore(response);
        response.StatusCode = Error.Status;
        if (Error.RetryAfter is { } retryAfter)
            response.Headers.RetryAfter = Math.Max(1, (long)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        if (Error.ChallengeBasic)
            response.Headers.WWWAuthenticate = "Basic realm=\"latchkey\", charset=\"UTF-8\"";

        ILogger logger = httpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger("Latchkey.Token");
        Log.TokenRequestRefused(logger, Error.Code, Error.Status, Error.Detail ?? Error.Description);

        return OAuthResults.WriteJsonAsync(response, new OAuthErrorBody(Error.Code, Error.Description), LatchkeyJsonContext.Default.OAuthErrorBody);
    }

    public static void PopulateMetadata(System.Reflection.MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status400BadRequest, typeof(OAuthErrorBody), ["application/json"]));
}

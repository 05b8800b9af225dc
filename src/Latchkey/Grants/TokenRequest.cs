using System.Buffers;
using System.IO.Pipelines;
using System.Net;
using Latchkey.Protocol;
using Microsoft.Net.Http.Headers;

namespace Latchkey.Grants;

/// <summary>
/// A token request (RFC 6749 §4.3.2, §4.4.2, §6), parsed once from the form, so that no grant ever reads the raw
/// request. Empty parameters are absent (§3.2).
/// </summary>
public sealed record TokenRequest
{
    public required string GrantType { get; init; }
    public string? Username { get; init; }
    public string? Password { get; init; }
    public string? Scope { get; init; }
    public string? ClientId { get; init; }
    public string? ClientSecret { get; init; }
    public string? RefreshToken { get; init; }

    /// <summary>The caller's address, for login throttling.</summary>
    public IPAddress? ClientAddress { get; init; }

    /// <summary>The scope values requested, split on spaces (RFC 6749 §3.3).</summary>
    public IReadOnlyList<string> Scopes => Scope?.Split(' ', StringSplitOptions.RemoveEmptyEntries) ?? [];

    /// <summary>Reads and parses the body, or returns the error that tells the client what is wrong with it.</summary>
    internal static async Task<(TokenRequest? Request, OAuthError? Error)> ReadAsync(HttpRequest http, int maxBytes, CancellationToken cancellationToken)
    {
        if (!MediaTypeHeaderValue.TryParse(http.ContentType, out MediaTypeHeaderValue? type) ||
            !type.MediaType.Equals("application/x-www-form-urlencoded", StringComparison.OrdinalIgnoreCase) ||
            (type.Charset.HasValue && !type.Charset.Equals("utf-8", StringComparison.OrdinalIgnoreCase)))
            return (null, OAuthError.InvalidRequest("The request body must be application/x-www-form-urlencoded (UTF-8)."));

        if (http.ContentLength > maxBytes)
            return (null, TooLarge(maxBytes));

        byte[]? body = await ReadBodyAsync(http.BodyReader, maxBytes, cancellationToken);
        if (body is null)
            return (null, TooLarge(maxBytes));

        Dictionary<string, string>? form = FormBody.Parse(body, out OAuthError? error);
        if (form is null)
            return (null, error);

        if (!form.TryGetValue(OAuthParameters.GrantType, out string? grantType))
            return (null, OAuthError.InvalidRequest("The grant_type parameter is missing."));

        return (new TokenRequest
        {
            GrantType = grantType,
            Username = form.GetValueOrDefault(OAuthParameters.Username),
            Password = form.GetValueOrDefault(OAuthParameters.Password),
            Scope = form.GetValueOrDefault(OAuthParameters.Scope),
            ClientId = form.GetValueOrDefault(OAuthParameters.ClientId),
            ClientSecret = form.GetValueOrDefault(OAuthParameters.ClientSecret),
            RefreshToken = form.GetValueOrDefault(OAuthParameters.RefreshToken),
            ClientAddress = http.HttpContext.Connection.RemoteIpAddress,
        }, null);
    }

    private static OAuthError TooLarge(int maxBytes) =>
        new(OAuthErrors.InvalidRequest, $"The request body is larger than {maxBytes} bytes.", StatusCodes.Status413PayloadTooLarge);

    /// <summary>Reads at most <paramref name="maxBytes"/>; null if the body is longer (a chunked body has no Content-Length to check).</summary>
    private static async Task<byte[]?> ReadBodyAsync(PipeReader reader, int maxBytes, CancellationToken cancellationToken)
    {
        while (true)
        {
            ReadResult read = await reader.ReadAsync(cancellationToken);
            ReadOnlySequence<byte> buffer = read.Buffer;
            if (buffer.Length > maxBytes)
            {
                reader.AdvanceTo(buffer.Start, buffer.End);
                return null;
            }

            if (read.IsCompleted)
            {
                byte[] body = buffer.ToArray();
                reader.AdvanceTo(buffer.End);
                return body;
            }

            reader.AdvanceTo(buffer.Start, buffer.End);
        }
    }
}

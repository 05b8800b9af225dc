using System.Buffers;
using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Latchkey.Tokens;

namespace Latchkey.Tests.Support;

/// <summary>
/// Every secret the test suite has handled so far, process-wide: passwords and client secrets it registered or sent,
/// and every access and refresh token a server returned to it. Each <see cref="LatchkeyTestServer"/> checks on
/// dispose that none of them is in its log, so every HTTP test in the suite is also a log-secrecy test.
/// </summary>
public static class SecretsSeen
{
    /// <summary>
    /// Shorter values are not checked: tests use "wrong" or "pw" as passwords, and such text appears in ordinary log
    /// lines ("wrong password") without being leaked. Every real token and generated secret is far longer.
    /// </summary>
    public const int MinimumLength = 10;

    private static readonly ConcurrentDictionary<string, string> Secrets = new(StringComparer.Ordinal);

    private static readonly string[] SecretJsonProperties = ["access_token", "refresh_token", "client_secret", "clientSecret", "password", "new_password"];

    /// <param name="what">What it is, for the failure message (never the secret itself).</param>
    public static void Record(string? secret, string what)
    {
        if (secret is { Length: >= MinimumLength })
            Secrets.TryAdd(secret, what);
    }

    /// <summary>
    /// A token as issued: the whole of it, and the part that alone is the secret (a JWT's signature, which with the
    /// public header and payload makes the token; a refresh token's random part).
    /// </summary>
    public static void RecordToken(string? token)
    {
        if (token is null)
            return;
        Record(token, "a whole token");
        string[] parts = token.Split('.');
        if (parts.Length == 3)
            Record(parts[2], "an access token's signature");
        else if (token.StartsWith(RefreshTokens.Prefix, StringComparison.Ordinal))
            Record(token[RefreshTokens.Prefix.Length..], "a refresh token's random part");
    }

    /// <summary>Fails when <paramref name="log"/> holds any secret seen so far, saying what kind it is and where.</summary>
    public static void AssertNoneIn(string log)
    {
        if (Secrets.IsEmpty || log.Length == 0)
            return;
        KeyValuePair<string, string>[] secrets = Secrets.ToArray();
        // One pass over the log for all secrets at once (Aho-Corasick/Teddy), however many tests ran before.
        SearchValues<string> search = SearchValues.Create(secrets.Select(s => s.Key).ToArray(), StringComparison.Ordinal);
        int at = log.AsSpan().IndexOfAny(search);
        if (at < 0)
            return;
        KeyValuePair<string, string> leaked = secrets.First(s => log.AsSpan(at).StartsWith(s.Key, StringComparison.Ordinal));
        int lineStart = log.LastIndexOf('\n', at) + 1;
        int lineEnd = log.IndexOf('\n', at) is var end and >= 0 ? end : log.Length;
        string line = log[lineStart..lineEnd].Replace(leaked.Key, "<" + leaked.Value + ">", StringComparison.Ordinal);
        Assert.Fail($"The log holds {leaked.Value} ({leaked.Key.Length} characters) in this line:\n{line}");
    }

    /// <summary>Records what goes out (form and JSON passwords, client secrets, Basic credentials) and the tokens that come back.</summary>
    internal sealed class RecordingHandler(HttpMessageHandler inner) : DelegatingHandler(inner)
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            if (request.Headers.Authorization is { Scheme: "Basic", Parameter: { } basic })
                RecordBasic(basic);
            if (request.Content is ByteArrayContent content)
                RecordBody(await content.ReadAsStringAsync(cancellationToken), content.Headers.ContentType?.MediaType);

            HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
            if (response.Content.Headers.ContentType?.MediaType is { } media && media.Contains("json", StringComparison.Ordinal))
            {
                await response.Content.LoadIntoBufferAsync(cancellationToken);
                RecordBody(await response.Content.ReadAsStringAsync(cancellationToken), media);
            }

            return response;
        }

        private static void RecordBasic(string parameter)
        {
            try
            {
                string pair = Encoding.UTF8.GetString(Convert.FromBase64String(parameter));
                int colon = pair.IndexOf(':');
                if (colon >= 0)
                {
                    Record(pair[(colon + 1)..], "a Basic password or client secret");
                    Record(Uri.UnescapeDataString(pair[(colon + 1)..]), "a Basic password or client secret");
                }
            }
            catch (FormatException)
            {
                // A test sending a malformed header on purpose.
            }
        }

        private static void RecordBody(string body, string? mediaType)
        {
            if (mediaType == "application/x-www-form-urlencoded")
            {
                foreach (string pair in body.Split('&'))
                {
                    int equals = pair.IndexOf('=');
                    if (equals < 0)
                        continue;
                    string name = Uri.UnescapeDataString(pair[..equals].Replace('+', ' '));
                    string value = Uri.UnescapeDataString(pair[(equals + 1)..].Replace('+', ' '));
                    if (name is "password" or "client_secret")
                        Record(value, "a " + name);
                    else if (name is "token" or "refresh_token")
                        RecordToken(value);
                }
            }
            else if (mediaType?.Contains("json", StringComparison.Ordinal) == true)
            {
                try
                {
                    using JsonDocument json = JsonDocument.Parse(body);
                    Walk(json.RootElement);
                }
                catch (JsonException)
                {
                    // Not JSON after all (a test sending a malformed body on purpose).
                }
            }
        }

        private static void Walk(JsonElement element)
        {
            if (element.ValueKind == JsonValueKind.Array)
            {
                foreach (JsonElement item in element.EnumerateArray())
                    Walk(item);
            }
            else if (element.ValueKind == JsonValueKind.Object)
            {
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    if (property.Value.ValueKind == JsonValueKind.String && SecretJsonProperties.Contains(property.Name))
                    {
                        if (property.Name.EndsWith("token", StringComparison.Ordinal))
                            RecordToken(property.Value.GetString());
                        else
                            Record(property.Value.GetString(), "a " + property.Name);
                    }
                    else
                    {
                        Walk(property.Value);
                    }
                }
            }
        }
    }
}

using System.Text;
using Latchkey.Clients;
using Latchkey.Protocol;
using Latchkey.Tokens;
using Microsoft.Extensions.Primitives;

namespace Latchkey.Endpoints.SignIn;

/// <summary>
/// The parameters of a request from an app through the browser (an authorization request, RFC 6749 §4.1.1 and OpenID
/// Connect Core §3.1.2.1; a logout request), each at most once (RFC 6749 §3.1), empty ones absent. Carried through the
/// hosted pages' forms as <see cref="Serialize"/> gives it, and checked again each time it comes back.
/// </summary>
internal sealed class RequestParameters
{
    /// <summary>The most parameters, and the longest request, Latchkey reads: anything larger is not a real client's.</summary>
    private const int MaxParameters = 40;
    private const int MaxLength = 8 * 1024;

    private readonly Dictionary<string, string> _parameters;

    private RequestParameters(Dictionary<string, string> parameters) => _parameters = parameters;

    public string? this[string name] => _parameters.GetValueOrDefault(name);

    public string? ClientId => this["client_id"];
    public string? RedirectUri => this["redirect_uri"];
    public string? State => this["state"];

    /// <summary>The parameters, or why they cannot be read (a repeated one, too many, too long).</summary>
    public static (RequestParameters? Request, string? Problem) From(IEnumerable<KeyValuePair<string, StringValues>> parameters)
    {
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        int length = 0;
        foreach ((string name, StringValues value) in parameters)
        {
            if (value.Count > 1)
                return (null, $"The {(name.Length <= 32 ? name : name[..32] + "…")} parameter is repeated (RFC 6749 §3.1).");
            string text = value.ToString();
            length += name.Length + text.Length;
            if (values.Count >= MaxParameters || length > MaxLength)
                return (null, "The request is too large.");
            if (text.Length > 0)
                values[name] = text;
        }

        return (new RequestParameters(values), null);
    }

    /// <summary>Parses what <see cref="Serialize"/> made (the hidden field of the login and consent forms).</summary>
    public static (RequestParameters? Request, string? Problem) Deserialize(string? serialized) =>
        serialized is null or { Length: > MaxLength * 3 }
            ? (null, "The sign-in form is incomplete.")
            : From(Microsoft.AspNetCore.WebUtilities.QueryHelpers.ParseQuery("?" + serialized));

    public string Serialize()
    {
        var text = new StringBuilder();
        foreach ((string name, string value) in _parameters)
        {
            if (text.Length > 0)
                text.Append('&');
            text.Append(Uri.EscapeDataString(name)).Append('=').Append(Uri.EscapeDataString(value));
        }

        return text.ToString();
    }
}

/// <summary>A checked authorization request: everything the rest of the flow needs, each value valid.</summary>
internal sealed record ValidAuthorization(Client Client, string RedirectUri, bool FormPost, string? State, IReadOnlyList<string> Scopes, string? Nonce,
    string CodeChallenge, IReadOnlySet<string> Prompt, long? MaxAge, string? LoginHint, RequestParameters Request)
{
    /// <summary>The weakest level (<c>acr</c>) of those the app asked for in <c>acr_values</c> that Latchkey knows; null: none asked.</summary>
    public string? RequiredLevel { get; init; }

    public string? Scope => Scopes.Count > 0 ? string.Join(' ', Scopes) : null;
}

/// <summary>
/// Why a request is refused: shown on a page (the client or its redirect URI cannot be trusted, so the browser must not be
/// sent there: RFC 6749 §4.1.2.1), or sent back to the client's redirect URI as <c>error</c>.
/// </summary>
internal sealed record AuthorizationRefusal(string? PageMessage, string? Error, string? Description, string? RedirectUri = null, bool FormPost = false,
    string? State = null);

/// <summary>The rules of an authorization request, in the order RFC 6749 §4.1.2.1 needs them: first whom to answer, then what is wrong.</summary>
internal static class AuthorizationRules
{
    public static (ValidAuthorization? Valid, AuthorizationRefusal? Refusal) Check(RequestParameters request, Client? client)
    {
        // 1. Whom to answer: an unknown client, or a redirect URI it has not registered, gets a page, never a redirect.
        if (request.ClientId is null)
            return Page("The request does not say which app is asking (client_id is missing).");
        if (client is null || client.Disabled || client.ClientId == Client.FirstPartyClientId)
            return Page("The app that sent you here is not registered, or is disabled.");
        if (request.RedirectUri is not { } redirectUri)
            return Page("The request does not say where to return (redirect_uri is missing).");
        if (!IsRegistered(redirectUri, client.RedirectUris))
            return Page("The app asked to return to an address it has not registered.");

        // 2. What is wrong, sent back to the app with its state.
        string? mode = request["response_mode"];
        if (mode is not (null or "query" or "form_post"))
            return Back(OAuthErrors.InvalidRequest, "The response_mode must be query or form_post.");
        bool formPost = mode == "form_post";
        AuthorizationRefusal Refuse(string error, string description) =>
            new(null, error, description, redirectUri, formPost, request.State);

        if (request["request"] is not null)
            return (null, Refuse("request_not_supported", "Request objects are not supported."));
        if (request["request_uri"] is not null)
            return (null, Refuse("request_uri_not_supported", "request_uri is not supported."));
        if (request["response_type"] is not { } responseType)
            return (null, Refuse(OAuthErrors.InvalidRequest, "The response_type parameter is missing."));
        if (responseType != "code")
            return (null, Refuse("unsupported_response_type", "Only response_type=code is supported."));
        if (!client.MayUse(GrantTypes.AuthorizationCode))
            return (null, Refuse(OAuthErrors.UnauthorizedClient, "This client may not use the authorization code grant."));
        if (request["code_challenge"] is not { } challenge)
            return (null, Refuse(OAuthErrors.InvalidRequest, "PKCE is required: send code_challenge and code_challenge_method=S256 (RFC 9700 §2.1.1)."));
        if (request["code_challenge_method"] != Pkce.S256)
            return (null, Refuse(OAuthErrors.InvalidRequest, "The code_challenge_method must be S256; plain is not accepted (RFC 9700 §2.1.1)."));
        if (challenge.Length != 43 || !Pkce.IsWellFormed(challenge))
            return (null, Refuse(OAuthErrors.InvalidRequest, "The code_challenge must be the 43-character BASE64URL of a SHA-256 (RFC 7636 §4.2)."));

        if (Scopes.Parse(request["scope"]) is not { } scopes)
            return (null, Refuse(OAuthErrors.InvalidScope, "The scope parameter is malformed."));
        if (scopes.Contains(Scopes.Admin))
            return (null, Refuse(OAuthErrors.InvalidScope, $"The {Scopes.Admin} scope is not given through the browser: use the latchkey command line."));
        if (scopes.FirstOrDefault(s => !client.AllowedScopes.Contains(s) && !Scopes.OpenIdConnect.Contains(s)) is { } unknown)
            return (null, Refuse(OAuthErrors.InvalidScope, $"The scope '{unknown}' is not allowed for this client."));

        HashSet<string> prompt = [.. (request["prompt"] ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries)];
        if (prompt.FirstOrDefault(p => p is not ("none" or "login" or "consent" or "select_account")) is { } badPrompt)
            return (null, Refuse(OAuthErrors.InvalidRequest, $"The prompt value '{badPrompt}' is not supported."));
        if (prompt.Contains("none") && prompt.Count > 1)
            return (null, Refuse(OAuthErrors.InvalidRequest, "prompt=none cannot be combined with other prompt values (OpenID Connect Core §3.1.2.1)."));
        long? maxAge = null;
        if (request["max_age"] is { } maxAgeText)
        {
            if (!long.TryParse(maxAgeText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out long seconds))
                return (null, Refuse(OAuthErrors.InvalidRequest, "The max_age must be a whole number of seconds."));
            maxAge = seconds;
        }

        string? loginHint = request["login_hint"] is { Length: <= 256 } hint ? hint : null;
        string? requiredLevel = Protocol.AuthenticationLevels.WeakestKnown((request["acr_values"] ?? "").Split(' ', StringSplitOptions.RemoveEmptyEntries));
        return (new ValidAuthorization(client, redirectUri, formPost, request.State, scopes, request["nonce"], challenge, prompt, maxAge, loginHint, request)
        {
            RequiredLevel = requiredLevel,
        }, null);

        (ValidAuthorization?, AuthorizationRefusal?) Back(string error, string description) =>
            (null, new AuthorizationRefusal(null, error, description, redirectUri, FormPost: false, request.State));
    }

    /// <summary>
    /// Exact string comparison (RFC 9700 §4.1.3), with one exception: a native app's http loopback redirect URI may come back
    /// on any port (RFC 8252 §7.3), since the app listens on whichever port the system gave it.
    /// </summary>
    public static bool IsRegistered(string redirectUri, IReadOnlyList<string> registered)
    {
        if (registered.Contains(redirectUri, StringComparer.Ordinal))
            return true;
        if (!redirectUri.StartsWith("http://", StringComparison.Ordinal) || !Uri.TryCreate(redirectUri, UriKind.Absolute, out Uri? asked) ||
            !RedirectUriRules.IsLoopback(asked) || asked.Host == "localhost" || redirectUri.Contains('#'))
            return false;
        string withoutPort = WithoutPort(redirectUri);
        return registered.Any(r => r.StartsWith("http://", StringComparison.Ordinal) && Uri.TryCreate(r, UriKind.Absolute, out Uri? known) &&
            RedirectUriRules.IsLoopback(known) && known.Host != "localhost" && WithoutPort(r) == withoutPort);
    }

    /// <summary>The URI as written, without the port of its authority: the rest is compared character for character.</summary>
    private static string WithoutPort(string uri)
    {
        const int start = 7; // "http://"
        int end = uri.IndexOfAny(['/', '?'], start);
        if (end < 0)
            end = uri.Length;
        string authority = uri[start..end];
        int colon = authority.LastIndexOf(':');
        if (colon > authority.LastIndexOf(']') && authority[(colon + 1)..].All(char.IsAsciiDigit))
            authority = authority[..colon];
        return "http://" + authority + uri[end..];
    }

    private static (ValidAuthorization?, AuthorizationRefusal?) Page(string message) => (null, new AuthorizationRefusal(message, null, null));
}

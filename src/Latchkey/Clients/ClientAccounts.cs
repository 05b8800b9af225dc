using Latchkey.Accounts;
using Latchkey.Audit;
using Latchkey.Protocol;
using Latchkey.Storage;
using Latchkey.Tokens;
using Microsoft.Extensions.Options;

namespace Latchkey.Clients;

/// <summary>The outcome of a client change: the client as it now is (and its new secret, shown once), or why nothing changed.</summary>
public sealed record ClientResult(ClientRegistration? Client, string? Secret, string? Error, ChangeFailure? Failure = null)
{
    public bool Succeeded => Error is null;

    public static ClientResult Fail(string error, ChangeFailure failure = ChangeFailure.Invalid) => new(null, null, error, failure);

    internal static ClientResult Ok(ClientRecord client, string? secret = null) => new(ClientRegistration.From(client), secret, null);
}

/// <summary>
/// Registering and changing clients, with every rule in one place, for the CLI and the admin API alike.
/// Disabling or removing a client ends what it holds: its tokens issued until then are refused by Latchkey's own endpoints
/// (at once on this node, on every node within <see cref="LatchkeyOptions.RevocationRefreshInterval"/>), and its refresh
/// tokens are revoked. The built-in first-party client can be disabled and enabled; its grants and scopes come from the
/// configuration.
/// </summary>
internal sealed class ClientAccounts(IClientStore clients, RefreshTokenFamilies families, IRevocationStore revocationStore, Revocations revocations,
    AuditTrail audit, IOptions<LatchkeyOptions> options, TimeProvider time)
{
    /// <summary>Every client; the first-party one with the grants and scopes it has in this configuration.</summary>
    public async Task<IReadOnlyList<ClientRegistration>> ListAsync(CancellationToken cancellationToken) =>
        (await clients.ListAsync(cancellationToken)).Select(c => ClientRegistration.From(Effective(c))).ToArray();

    /// <summary>
    /// Registers a client. Its id may not look like a user id (a UUID): a <c>client_credentials</c> token's <c>sub</c> is the
    /// client id, and an API must never mistake a client for a user (RFC 9068 §5).
    /// </summary>
    public async Task<ClientResult> AddAsync(string clientId, IReadOnlyCollection<string> grantTypes, IReadOnlyCollection<string> scopes, string? audience,
        string actor, CancellationToken cancellationToken, string? introspection = null, BrowserSettings? browser = null)
    {
        browser ??= BrowserSettings.None;
        if (!IsValidId(clientId))
            return ClientResult.Fail($"'{clientId}' is not a valid client name: use 1 to 64 ASCII letters, digits or . _ -.");
        if (clientId == Client.FirstPartyClientId)
            return ClientResult.Fail($"'{Client.FirstPartyClientId}' is the built-in first-party client; choose another name.", ChangeFailure.Conflict);
        if (LooksLikeUserId(clientId))
            return ClientResult.Fail($"'{clientId}' has the form of a user id (a UUID); a client's tokens carry its id as sub, so choose a name that cannot be a user's.");
        if (grantTypes.Count == 0)
            return ClientResult.Fail($"Give the client at least one grant type: {string.Join(", ", Client.AssignableGrantTypes)}.");
        if (grantTypes.FirstOrDefault(g => !Client.AssignableGrantTypes.Contains(g)) is { } badGrant)
            return ClientResult.Fail($"'{badGrant}' is not a grant a client can have: use {string.Join(", ", Client.AssignableGrantTypes)}.");
        if (grantTypes.Contains(GrantTypes.RefreshToken) && !grantTypes.Contains(GrantTypes.Password) && !grantTypes.Contains(GrantTypes.AuthorizationCode))
            return ClientResult.Fail("refresh_token is only useful with the authorization_code or password grant (client_credentials gets no refresh token).");
        if (browser.Check(grantTypes) is { } browserError)
            return ClientResult.Fail(browserError);
        if (CheckScopes(scopes) is { } scopeError)
            return ClientResult.Fail(scopeError);
        if (audience is not null && !Scopes.IsValid(audience))
            return ClientResult.Fail($"'{audience}' is not a valid audience.");
        if (!IntrospectionPermission.IsValid(introspection))
            return ClientResult.Fail($"'{introspection}' is not an introspection permission: use {IntrospectionPermission.Any} or {IntrospectionPermission.OwnAudience}.");
        IReadOnlyList<string> idTokenAlgorithms = Keys.SigningKeyRing.IdTokenAlgorithms(options.Value);
        if (browser.IdTokenAlgorithm is { } idTokenAlgorithm && !idTokenAlgorithms.Contains(idTokenAlgorithm))
            return ClientResult.Fail($"'{idTokenAlgorithm}' is not an algorithm Latchkey signs id tokens with here: use {string.Join(" or ", idTokenAlgorithms)}.");

        // A public client has no secret (RFC 6749 §2.1): its stored hash is empty, and no secret can match it.
        string? secret = browser.Public ? null : ClientSecrets.Generate();
        var record = new ClientRecord(clientId, secret is null ? "" : ClientSecrets.Hash(secret), grantTypes.Distinct().ToArray(), scopes.Distinct().ToArray(),
            audience, Disabled: false, time.GetUtcNow(), introspection, IsPublic: browser.Public)
        {
            RedirectUris = browser.RedirectUris.Distinct(StringComparer.Ordinal).ToArray(),
            PostLogoutRedirectUris = browser.PostLogoutRedirectUris.Distinct(StringComparer.Ordinal).ToArray(),
            FirstParty = browser.FirstParty,
            // RS256, the default, is stored as null: a client follows the default if it ever changes.
            IdTokenSignedResponseAlg = browser.IdTokenAlgorithm is Keys.SigningKeyRing.IdTokenAlgorithm ? null : browser.IdTokenAlgorithm,
            RequireMfa = browser.RequireMfa,
        };
        if (!await clients.TryAddAsync(record, cancellationToken))
            return ClientResult.Fail($"A client named '{clientId}' already exists.", ChangeFailure.Conflict);
        await AuditAsync(AuditEvents.ClientAdded, actor, clientId, cancellationToken, Describe(record));
        return ClientResult.Ok(record, secret);
    }

    /// <summary>
    /// A new secret; the old one stops working. Tokens already issued stay valid: after a leak, disable the client first
    /// (which cuts them off), then rotate and enable it.
    /// </summary>
    public async Task<ClientResult> RotateSecretAsync(string clientId, string actor, CancellationToken cancellationToken)
    {
        if (clientId == Client.FirstPartyClientId)
            return ClientResult.Fail($"'{Client.FirstPartyClientId}' is a public client: it has no secret.");
        if ((await clients.FindAsync(clientId, cancellationToken)) is { IsPublic: true })
            return ClientResult.Fail($"'{clientId}' is a public client: it has no secret.");
        string secret = ClientSecrets.Generate();
        ClientUpdate? update = await clients.UpdateAsync(clientId, c => c with { SecretHash = ClientSecrets.Hash(secret) }, cutOff: null, cancellationToken);
        if (update is null)
            return NotFound(clientId);
        await AuditAsync(AuditEvents.ClientSecretRotated, actor, clientId, cancellationToken);
        return ClientResult.Ok(update.After, secret);
    }

    /// <summary>
    /// Adds and removes allowed scopes atomically. A scope removed is no longer granted, and a refresh without
    /// <c>scope</c> drops it from the login's tokens. The first-party client's scopes are <c>Latchkey:Scopes</c>.
    /// </summary>
    public async Task<ClientResult> ChangeScopesAsync(string clientId, IReadOnlyCollection<string> add, IReadOnlyCollection<string> remove, string actor,
        CancellationToken cancellationToken)
    {
        if (clientId == Client.FirstPartyClientId)
            return ClientResult.Fail($"The scopes of '{Client.FirstPartyClientId}' are Latchkey:Scopes (plus {Scopes.Admin}); change that setting instead.");
        if (CheckScopes(add) is { } scopeError)
            return ClientResult.Fail(scopeError);
        ClientUpdate? update = await clients.UpdateAsync(clientId,
            c => c with { Scopes = c.Scopes.Except(remove, StringComparer.Ordinal).Concat(add).Distinct(StringComparer.Ordinal).ToArray() },
            cutOff: null, cancellationToken);
        if (update is null)
            return NotFound(clientId);
        await AuditAsync(AuditEvents.ClientScopesChanged, actor, clientId, cancellationToken, "scopes: " + Join(update.After.Scopes));
        return ClientResult.Ok(Effective(update.After));
    }

    public async Task<ClientResult> SetDisabledAsync(string clientId, bool disabled, string actor, CancellationToken cancellationToken)
    {
        DateTimeOffset now = time.GetUtcNow();
        Revocation? cutOff = disabled ? Revocation.Of(RevocationKinds.Client, clientId, now) : null;
        ClientUpdate? update = await clients.UpdateAsync(clientId, c => c with { Disabled = disabled }, cutOff, cancellationToken);
        if (update is null)
            return NotFound(clientId);
        await AuditAsync(disabled ? AuditEvents.ClientDisabled : AuditEvents.ClientEnabled, actor, clientId, cancellationToken);
        if (cutOff is not null)
            await EndSessionsAsync(cutOff, actor, "client disabled", cancellationToken);
        return ClientResult.Ok(Effective(update.After));
    }

    public async Task<ClientResult> RemoveAsync(string clientId, string actor, CancellationToken cancellationToken)
    {
        if (clientId == Client.FirstPartyClientId)
            return ClientResult.Fail($"'{Client.FirstPartyClientId}' is built in: disable it instead.");
        ClientRecord? client = await clients.FindAsync(clientId, cancellationToken);
        Revocation cutOff = Revocation.Of(RevocationKinds.Client, clientId, time.GetUtcNow());
        if (client is null || !await clients.RemoveAsync(clientId, cutOff, cancellationToken))
            return NotFound(clientId);
        await AuditAsync(AuditEvents.ClientRemoved, actor, clientId, cancellationToken);
        await EndSessionsAsync(cutOff, actor, "client removed", cancellationToken);
        return ClientResult.Ok(client);
    }

    /// <summary>
    /// True for the forms a user id takes: a UUID, with or without hyphens. Such a client id could equal a user's
    /// <c>sub</c>, and its <c>client_credentials</c> tokens would then name that user (RFC 9068 §5).
    /// </summary>
    public static bool LooksLikeUserId(string clientId) =>
        Guid.TryParseExact(clientId, "D", out _) || Guid.TryParseExact(clientId, "N", out _);

    /// <summary>The record as clients see it: the first-party client with its configured grants and scopes.</summary>
    private ClientRecord Effective(ClientRecord record)
    {
        if (record.ClientId != Client.FirstPartyClientId)
            return record;
        Client firstParty = Client.FirstParty(options.Value);
        return record with { GrantTypes = firstParty.AllowedGrantTypes, Scopes = firstParty.AllowedScopes };
    }

    private async Task EndSessionsAsync(Revocation cutOff, string actor, string why, CancellationToken cancellationToken)
    {
        // A node that read the client's record before the change committed read it before this moment: move the cut-off
        // here, so that tokens minted from that read are refused too.
        Revocation settled = Revocation.Of(RevocationKinds.Client, cutOff.Id, time.GetUtcNow());
        if (settled.At > cutOff.At)
        {
            await revocationStore.AddAsync(settled, cancellationToken);
            cutOff = settled;
        }

        revocations.Apply(cutOff);
        int revoked = await families.RevokeAllOfClientAsync(cutOff.Id, cutOff.At, cancellationToken);
        await AuditAsync(AuditEvents.TokensCutOff, actor, cutOff.Id, cancellationToken,
            $"tokens issued until {cutOff.At.UtcDateTime:O} refused; {revoked} refresh token families revoked: {why}");
    }

    private static string? CheckScopes(IEnumerable<string> scopes) =>
        scopes.FirstOrDefault(s => !Scopes.IsValid(s)) is { } badScope
            ? $"'{badScope}' is not a valid scope (RFC 6749 §3.3: printable ASCII without spaces, quotes or backslashes)."
            : null;

    private static bool IsValidId(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private static string Describe(ClientRecord c) =>
        $"grants: {Join(c.GrantTypes)}; scopes: {Join(c.Scopes)}; audience: {c.Audience ?? "-"}; introspection: {c.Introspection ?? "no"}" +
        (c.RedirectUris.Count > 0 ? $"; redirect URIs: {Join(c.RedirectUris)}; {(c.IsPublic ? "public" : "confidential")}; {(c.FirstParty ? "first-party" : "third-party")}" : "") +
        (c.IdTokenSignedResponseAlg is { } alg ? $"; id tokens: {alg}" : "") + (c.RequireMfa ? "; requires a second factor" : "");

    private static string Join(IReadOnlyList<string> values) => values.Count == 0 ? "none" : string.Join(",", values);

    private Task AuditAsync(string type, string actor, string clientId, CancellationToken cancellationToken, string? detail = null) =>
        audit.WriteAsync(new AuditEvent(time.GetUtcNow(), type, AuditOutcomes.Success, Actor: actor, ClientId: clientId, Detail: detail), cancellationToken);

    private static ClientResult NotFound(string clientId) => ClientResult.Fail($"No client named '{clientId}'.", ChangeFailure.NotFound);
}

/// <summary>
/// What a client that signs users in through a browser registers: where the browser may return after sign-in and after
/// logout, whether it is public (a single-page or native app, which cannot keep a secret: RFC 6749 §2.1) and whether it is
/// first-party (the operator's own, whose users are not asked to consent).
/// </summary>
public sealed record BrowserSettings(IReadOnlyList<string> RedirectUris, IReadOnlyList<string> PostLogoutRedirectUris, bool Public, bool FirstParty)
{
    public static readonly BrowserSettings None = new([], [], Public: false, FirstParty: false);

    /// <summary>
    /// The algorithm of the client's id tokens (<c>id_token_signed_response_alg</c>, OpenID Connect Dynamic Client Registration
    /// §2): null or RS256 for the default, or the access tokens' algorithm, whose signatures can be much cheaper (ES256).
    /// </summary>
    public string? IdTokenAlgorithm { get; init; }

    /// <summary>The client's users must sign in with two factors (<c>--require-mfa</c>).</summary>
    public bool RequireMfa { get; init; }

    /// <summary>Why these settings do not fit a client with <paramref name="grantTypes"/>, or null.</summary>
    internal string? Check(IReadOnlyCollection<string> grantTypes)
    {
        bool code = grantTypes.Contains(GrantTypes.AuthorizationCode);
        if (code && RedirectUris.Count == 0)
            return "A client with authorization_code needs at least one redirect URI (--redirect-uri).";
        if (!code && (RedirectUris.Count > 0 || PostLogoutRedirectUris.Count > 0 || Public || FirstParty || IdTokenAlgorithm is not null || RequireMfa))
            return "Redirect URIs, --public, --first-party, --id-token-alg and --require-mfa are for clients with the authorization_code grant.";
        if (RequireMfa && grantTypes.Contains(GrantTypes.Password))
            return "A client that requires a second factor cannot have the password grant, which has no step to ask for one.";
        if (Public && grantTypes.Any(g => g is not (GrantTypes.AuthorizationCode or GrantTypes.RefreshToken)))
            return "A public client can only use authorization_code and refresh_token: it has no secret to prove itself with anywhere else.";
        if (RedirectUris.Concat(PostLogoutRedirectUris).FirstOrDefault(u => RedirectUriRules.Problem(u) is not null) is { } bad)
            return $"'{bad}' cannot be a redirect URI: {RedirectUriRules.Problem(bad)}.";
        return null;
    }
}

/// <summary>
/// Which redirect URIs a client may register (RFC 9700 §2.1, §4.1; RFC 8252 §7): absolute, without a fragment, https; http only
/// for a loopback host (127.0.0.1, [::1] or localhost), where a native app listens; or a native app's private-use scheme
/// (reverse domain name, such as <c>com.example.app:/callback</c>).
/// </summary>
public static class RedirectUriRules
{
    public static string? Problem(string uri)
    {
        if (uri.Length > 2000)
            return "it is longer than 2000 characters";
        // On Unix, "/callback" parses as an absolute file: URI: it must start with the scheme it parsed as.
        if (!Uri.TryCreate(uri, UriKind.Absolute, out Uri? parsed) || !uri.StartsWith(parsed.Scheme + ":", StringComparison.OrdinalIgnoreCase))
            return "it is not an absolute URI";
        if (uri.Contains('#'))
            return "it has a fragment (RFC 6749 §3.1.2)";
        if (uri.Any(c => c <= ' ' || c >= 0x7f))
            return "it has spaces, control or non-ASCII characters";
        if (parsed.Scheme == Uri.UriSchemeHttps)
            return null;
        if (parsed.Scheme == Uri.UriSchemeHttp)
            return IsLoopback(parsed) ? null : "http is allowed only for a loopback host (127.0.0.1, [::1] or localhost); use https";
        if (parsed.Scheme.Contains('.'))
            return null;
        return "use https, http on a loopback host, or a private-use scheme with a reverse domain name (com.example.app:/callback)";
    }

    /// <summary>127.0.0.1, [::1] or localhost: a native app's loopback redirect (RFC 8252 §7.3).</summary>
    public static bool IsLoopback(Uri uri) => uri.IsLoopback && (uri.HostNameType is UriHostNameType.IPv4 or UriHostNameType.IPv6 || uri.Host == "localhost");
}

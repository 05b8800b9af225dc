using Latchkey.Accounts;
using Latchkey.Audit;
using Latchkey.Protocol;
using Latchkey.Storage;

namespace Latchkey.Clients;

/// <summary>The outcome of a client change: the client as it now is (and its new secret, shown once), or why nothing changed.</summary>
public sealed record ClientResult(ClientRecord? Client, string? Secret, string? Error, ChangeFailure? Failure = null)
{
    public bool Succeeded => Error is null;

    public static ClientResult Fail(string error, ChangeFailure failure = ChangeFailure.Invalid) => new(null, null, error, failure);
}

/// <summary>
/// Registering and changing clients, with every rule in one place, for the CLI and the admin API alike.
/// Disabling or removing a client revokes its refresh tokens.
/// </summary>
public sealed class ClientAccounts(IClientStore clients, IRefreshTokenStore refreshTokens, AuditTrail audit, TimeProvider time)
{
    public Task<IReadOnlyList<ClientRecord>> ListAsync(CancellationToken cancellationToken) => clients.ListAsync(cancellationToken);

    public async Task<ClientResult> AddAsync(string clientId, IReadOnlyCollection<string> grantTypes, IReadOnlyCollection<string> scopes, string? audience,
        string actor, CancellationToken cancellationToken)
    {
        if (!IsValidId(clientId))
            return ClientResult.Fail($"'{clientId}' is not a valid client name: use 1 to 64 ASCII letters, digits or . _ -.");
        if (clientId == Client.FirstPartyClientId)
            return ClientResult.Fail($"'{Client.FirstPartyClientId}' is the built-in first-party client; choose another name.", ChangeFailure.Conflict);
        if (grantTypes.Count == 0)
            return ClientResult.Fail($"Give the client at least one grant type: {string.Join(", ", Client.AssignableGrantTypes)}.");
        if (grantTypes.FirstOrDefault(g => !Client.AssignableGrantTypes.Contains(g)) is { } badGrant)
            return ClientResult.Fail($"'{badGrant}' is not a grant a client can have: use {string.Join(", ", Client.AssignableGrantTypes)}.");
        if (grantTypes.Contains(GrantTypes.RefreshToken) && !grantTypes.Contains(GrantTypes.Password))
            return ClientResult.Fail("refresh_token is only useful with the password grant (client_credentials gets no refresh token).");
        if (scopes.FirstOrDefault(s => !Scopes.IsValid(s)) is { } badScope)
            return ClientResult.Fail($"'{badScope}' is not a valid scope (RFC 6749 §3.3: printable ASCII without spaces, quotes or backslashes).");
        if (audience is not null && !Scopes.IsValid(audience))
            return ClientResult.Fail($"'{audience}' is not a valid audience.");

        string secret = ClientSecrets.Generate();
        var record = new ClientRecord(clientId, ClientSecrets.Hash(secret), grantTypes.Distinct().ToArray(), scopes.Distinct().ToArray(), audience,
            Disabled: false, time.GetUtcNow());
        if (!await clients.TryAddAsync(record, cancellationToken))
            return ClientResult.Fail($"A client named '{clientId}' already exists.", ChangeFailure.Conflict);
        await AuditAsync("client_added", actor, clientId, cancellationToken);
        return new ClientResult(record, secret, null);
    }

    public async Task<ClientResult> RotateSecretAsync(string clientId, string actor, CancellationToken cancellationToken)
    {
        string secret = ClientSecrets.Generate();
        if (!await clients.SetSecretHashAsync(clientId, ClientSecrets.Hash(secret), cancellationToken))
            return NotFound(clientId);
        await AuditAsync(AuditEvents.ClientSecretRotated, actor, clientId, cancellationToken);
        return new ClientResult(await clients.FindAsync(clientId, cancellationToken), secret, null);
    }

    public async Task<ClientResult> SetDisabledAsync(string clientId, bool disabled, string actor, CancellationToken cancellationToken)
    {
        if (!await clients.SetDisabledAsync(clientId, disabled, cancellationToken))
            return NotFound(clientId);
        await AuditAsync(disabled ? "client_disabled" : "client_enabled", actor, clientId, cancellationToken);
        if (disabled)
            await RevokeFamiliesAsync(clientId, actor, "client disabled", cancellationToken);
        return new ClientResult(await clients.FindAsync(clientId, cancellationToken), null, null);
    }

    public async Task<ClientResult> RemoveAsync(string clientId, string actor, CancellationToken cancellationToken)
    {
        ClientRecord? client = await clients.FindAsync(clientId, cancellationToken);
        if (client is null || !await clients.RemoveAsync(clientId, cancellationToken))
            return NotFound(clientId);
        await AuditAsync("client_removed", actor, clientId, cancellationToken);
        await RevokeFamiliesAsync(clientId, actor, "client removed", cancellationToken);
        return new ClientResult(client, null, null);
    }

    private static bool IsValidId(string id) =>
        id.Length is > 0 and <= 64 && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-');

    private Task AuditAsync(string type, string actor, string clientId, CancellationToken cancellationToken, string? detail = null) =>
        audit.WriteAsync(new AuditEvent(time.GetUtcNow(), type, "success", Actor: actor, ClientId: clientId, Detail: detail), cancellationToken);

    private async Task RevokeFamiliesAsync(string clientId, string actor, string why, CancellationToken cancellationToken)
    {
        int revoked = await refreshTokens.RevokeFamiliesOfClientAsync(clientId, time.GetUtcNow(), cancellationToken);
        if (revoked > 0)
            await AuditAsync(AuditEvents.FamilyRevoked, actor, clientId, cancellationToken, $"{revoked} refresh token families: {why}");
    }

    private static ClientResult NotFound(string clientId) => ClientResult.Fail($"No client named '{clientId}'.", ChangeFailure.NotFound);
}

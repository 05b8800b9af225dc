using System.Buffers.Text;
using System.Globalization;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using Fido2NetLib;
using Fido2NetLib.Objects;
using Latchkey.Audit;
using Latchkey.Keys;
using Latchkey.Protocol;
using Latchkey.Storage;

namespace Latchkey.Accounts;

/// <summary>
/// A registration handed to the browser: the options for <c>navigator.credentials.create()</c> (JSON), and its state, sealed
/// under the master key, which comes back with the browser's answer.
/// </summary>
public sealed record PasskeyCeremony(string OptionsJson, string State);

/// <summary>
/// A sign-in handed to the browser: what <c>navigator.credentials.get()</c> needs (the challenge, the relying party id, the
/// user's passkeys when it is a second factor; user verification is always required), and the sealed state. No JSON: the
/// login page carries one on every render, so it is made with nothing but a random challenge and one encryption.
/// </summary>
public sealed record PasskeyRequest(string Challenge, string RelyingPartyId, IReadOnlyList<string> Allow, string State);

/// <summary>
/// A passkey as its owner sees it on the account page: its id (base64url), name, when made and last used, whether it is
/// synced (backed up), and whether it can be (a key kept in software, <c>swk</c>, rather than in one device's hardware).
/// </summary>
public sealed record PasskeyEntry(string Id, string Name, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, bool Synced, bool BackupEligible)
{
    /// <summary>The passkey's <c>amr</c> method: <c>swk</c> for one that can be synced, else <c>hwk</c>.</summary>
    public string Method => BackupEligible ? SignInMethods.SoftwareKey : SignInMethods.HardwareKey;
}

/// <summary>A passkey's answer, checked: the user it signs in and its <c>amr</c> methods, or why it was refused.</summary>
public sealed record PasskeyResult(UserAccount? User, IReadOnlyList<string>? Methods, string? Failure, string? PasskeyName = null)
{
    public bool Succeeded => User is not null;
}

/// <summary>
/// Passkeys (WebAuthn Level 3, through fido2-net-lib's <c>Fido2</c>), the one owner of their rules: discoverable credentials,
/// user verification required, for the relying party and origins of the issuer (<see cref="PasskeyOptions"/>). Each
/// ceremony's state travels sealed with the page and its challenge is taken once, before the answer is checked, so an
/// answer cannot be replayed; the signature counter must go up (or stay at zero, for authenticators without one), and the
/// backup-eligible flag must not change. A verified passkey is two factors on its own: <c>hwk</c> or <c>swk</c> (synced), <c>user</c>, <c>mfa</c>.
/// </summary>
internal sealed class Passkeys(ISecondFactorStore store, IUserStore users, MasterKeys masterKeys, AuditTrail audit,
    Microsoft.Extensions.Options.IOptions<LatchkeyOptions> options, TimeProvider time)
{
    /// <summary>How long a ceremony's options stay good: the browser's timeout, and the life of the sealed state.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    public const int MaxNameLength = 64;

    /// <summary>The most passkeys a user has: every ceremony carries their ids, and a person has a handful of devices.</summary>
    public const int MaxPerUser = 20;

    /// <summary>The largest answer a browser sends: a few hundred bytes for an assertion, a few KiB with an attestation.</summary>
    private const int MaxCredentialJsonLength = 16 * 1024;

    private const string Purpose = "latchkey/webauthn-ceremony/v1";
    private const string Create = "create";
    private const string Get = "get";

    private readonly Fido2 _fido2 = new(Configuration(options.Value));
    private readonly string _rpId = Configuration(options.Value).RPID;

    /// <summary>The relying party id and origins, from the options or else from the issuer.</summary>
    public static Fido2Configuration Configuration(LatchkeyOptions o)
    {
        var issuer = new Uri(o.Issuer!);
        return new Fido2Configuration
        {
            RPID = o.Passkeys.RelyingPartyId ?? issuer.Host,
            RPName = o.Branding.Name,
            Origins = new HashSet<string>(o.Passkeys.Origins.Count > 0 ? o.Passkeys.Origins.Select(x => x.TrimEnd('/')) : [issuer.GetLeftPart(UriPartial.Authority)]),
            Timeout = (uint)Lifetime.TotalMilliseconds,
        };
    }

    public async Task<IReadOnlyList<PasskeyEntry>> ListAsync(UserAccount user, CancellationToken cancellationToken) =>
        (await store.ListPasskeysAsync(user.Id, cancellationToken))
        .Select(p => new PasskeyEntry(Base64Url.EncodeToString(p.CredentialId), p.Name, p.CreatedAt, p.LastUsedAt, p.BackedUp, p.BackupEligible)).ToArray();

    /// <summary>Options to make a new passkey for the user (none of theirs made again on the same authenticator); null when they have <see cref="MaxPerUser"/>.</summary>
    public async Task<PasskeyCeremony?> BeginRegistrationAsync(UserAccount user, CancellationToken cancellationToken)
    {
        IReadOnlyList<PasskeyRecord> existing = await store.ListPasskeysAsync(user.Id, cancellationToken);
        if (existing.Count >= MaxPerUser)
            return null;
        CredentialCreateOptions created = _fido2.RequestNewCredential(new RequestNewCredentialParams
        {
            User = new Fido2User { Id = UserHandle(user.Id), Name = user.Username, DisplayName = user.Name ?? user.Username },
            ExcludeCredentials = existing.Select(p => new PublicKeyCredentialDescriptor(p.CredentialId)).ToArray(),
            AuthenticatorSelection = new AuthenticatorSelection
            {
                ResidentKey = ResidentKeyRequirement.Required,
                UserVerification = UserVerificationRequirement.Required,
            },
            AttestationPreference = AttestationConveyancePreference.None,
            // ES256 first (every authenticator has it), then EdDSA and RS256 (Windows Hello).
            PubKeyCredParams = [PubKeyCredParam.ES256, PubKeyCredParam.Ed25519, PubKeyCredParam.RS256],
        });
        string json = created.ToJson();
        return new PasskeyCeremony(json, Seal(Create, user.Id, json));
    }

    /// <summary>
    /// Options to sign in with a passkey: any of the relying party's (the browser asks which, a discoverable credential), or,
    /// as the second factor of <paramref name="user"/>, one of theirs.
    /// </summary>
    public async Task<PasskeyRequest> BeginSignInAsync(UserAccount? user, CancellationToken cancellationToken)
    {
        IReadOnlyList<string> allowed = user is null
            ? []
            : (await store.ListPasskeysAsync(user.Id, cancellationToken)).Select(p => Base64Url.EncodeToString(p.CredentialId)).ToArray();
        return BeginSignIn(user?.Id, allowed);
    }

    /// <summary>Options to sign in with any passkey of the relying party: what the login page carries, made without a database read.</summary>
    public PasskeyRequest BeginSignIn() => BeginSignIn(null, []);

    private PasskeyRequest BeginSignIn(string? userId, IReadOnlyList<string> allowed)
    {
        string challenge = Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(16));
        return new PasskeyRequest(challenge, _rpId, allowed, Seal(Get, userId, challenge));
    }

    /// <summary>
    /// The options the browser was given for a sign-in (<see cref="PasskeyRequest"/>), as Fido2 checks an answer against them:
    /// the challenge, the relying party id, user verification required. The passkeys allowed are not among them: the owner of
    /// the passkey that answered is checked against the sign-in's user instead.
    /// </summary>
    private AssertionOptions SignInOptions(string challenge) => new()
    {
        Challenge = Base64Url.DecodeFromChars(challenge),
        RpId = _rpId,
        Timeout = (ulong)Lifetime.TotalMilliseconds,
        UserVerification = UserVerificationRequirement.Required,
    };

    /// <summary>
    /// The browser's new passkey for <paramref name="user"/>, checked and stored with its name; the entry, or why it was refused.
    /// </summary>
    public async Task<(PasskeyEntry? Added, string? Failure)> RegisterAsync(UserAccount user, string state, string credentialJson, string name,
        IPAddress? address, CancellationToken cancellationToken)
    {
        name = name.Trim();
        if (name.Length is 0 or > MaxNameLength || name.Any(char.IsControl))
            return (null, $"Give the passkey a name of 1 to {MaxNameLength} characters.");
        if (await OpenAsync(state, Create, cancellationToken) is not { } ceremony)
            return (null, "This passkey setup has expired or was used already. Try again.");
        if (ceremony.UserId != user.Id)
            return (null, "This passkey setup was made for another account.");
        if ((await store.ListPasskeysAsync(user.Id, cancellationToken)).Count >= MaxPerUser)
            return (null, $"You have {MaxPerUser} passkeys: remove one before you add another.");

        RegisteredPublicKeyCredential credential;
        try
        {
            if (credentialJson.Length > MaxCredentialJsonLength ||
                JsonSerializer.Deserialize(credentialJson, PasskeyJsonContext.Default.AuthenticatorAttestationRawResponse) is not { } response)
                return (null, "Your browser did not send a passkey.");
            credential = await _fido2.MakeNewCredentialAsync(new MakeNewCredentialParams
            {
                AttestationResponse = response,
                OriginalOptions = CredentialCreateOptions.FromJson(ceremony.Payload),
                IsCredentialIdUniqueToUserCallback = async (p, ct) => await store.FindPasskeyAsync(p.CredentialId, ct) is null,
            }, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException and not System.Data.Common.DbException)
        {
            await AuditAsync(AuditEvents.FactorFailed, AuditOutcomes.Failure, user.Username, address, $"passkey not added: {Reason(e)}", cancellationToken);
            return (null, "The passkey could not be added: " + Reason(e));
        }

        var record = new PasskeyRecord(credential.Id, user.Id, name, credential.PublicKey, credential.SignCount, credential.IsBackupEligible, credential.IsBackedUp,
            string.Join(' ', (credential.Transports ?? []).Select(t => t.ToString().ToLowerInvariant())), time.GetUtcNow(), null);
        if (!await store.AddPasskeyAsync(record, cancellationToken))
            return (null, "This passkey is added already.");
        await AuditAsync(AuditEvents.FactorAdded, AuditOutcomes.Success, user.Username, address, $"passkey \"{name}\"", cancellationToken);
        return (new PasskeyEntry(Base64Url.EncodeToString(record.CredentialId), name, record.CreatedAt, null, record.BackedUp, record.BackupEligible), null);
    }

    /// <summary>
    /// A passkey's answer to a sign-in ceremony: the user it belongs to (who must be <paramref name="expected"/>, when it is
    /// the second factor of a sign-in begun with a password), and how they signed in. Every refusal is audited.
    /// </summary>
    public async Task<PasskeyResult> VerifyAsync(string state, string credentialJson, UserAccount? expected, IPAddress? address,
        CancellationToken cancellationToken)
    {
        AuthenticatorAssertionRawResponse? response = null;
        try
        {
            if (credentialJson.Length <= MaxCredentialJsonLength)
                response = JsonSerializer.Deserialize(credentialJson, PasskeyJsonContext.Default.AuthenticatorAssertionRawResponse);
        }
        catch (JsonException)
        {
        }

        if (response?.RawId is not { Length: > 0 } credentialId || response.Response is null)
            return await RefuseAsync(expected?.Username, address, "not a passkey's answer", "Your browser did not send a passkey.", cancellationToken);
        if (await OpenAsync(state, Get, cancellationToken) is not { } ceremony)
            return await RefuseAsync(expected?.Username, address, "expired or replayed ceremony",
                "This passkey sign-in has expired or was used already. Try again.", cancellationToken);
        if (ceremony.UserId != expected?.Id)
            return await RefuseAsync(expected?.Username, address, "ceremony of another sign-in", "This passkey sign-in belongs to another one.", cancellationToken);

        PasskeyRecord? passkey = await store.FindPasskeyAsync(credentialId, cancellationToken);
        UserRecord? owner = passkey is null ? null : await users.FindByIdAsync(passkey.UserId, cancellationToken);
        if (passkey is null || owner is null)
            return await RefuseAsync(expected?.Username, address, "unknown passkey", "This passkey is not known here. Sign in another way.", cancellationToken);
        if (expected is not null && passkey.UserId != expected.Id)
            return await RefuseAsync(expected.Username, address, $"a passkey of another account ({owner.Username})",
                "This passkey belongs to another account.", cancellationToken);
        if (owner.Disabled)
            return await RefuseAsync(owner.Username, address, "account disabled", "This passkey is not known here. Sign in another way.", cancellationToken);

        VerifyAssertionResult verified;
        try
        {
            verified = await _fido2.MakeAssertionAsync(new MakeAssertionParams
            {
                AssertionResponse = response,
                OriginalOptions = SignInOptions(ceremony.Payload),
                StoredPublicKey = passkey.PublicKey,
                StoredSignatureCounter = passkey.SignCount,
                // The user handle the authenticator returns must be the passkey's owner (WebAuthn §7.2 step 6).
                IsUserHandleOwnerOfCredentialIdCallback = (p, _) => Task.FromResult(p.UserHandle.AsSpan().SequenceEqual(UserHandle(passkey.UserId))),
            }, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Fido2 refuses a signature counter that did not go up (WebAuthn §6.1.1: two copies of the key), unless both are 0
            // (an authenticator that keeps none).
            return await RefuseAsync(owner.Username, address, $"passkey \"{passkey.Name}\": {Reason(e)}", "The passkey could not be checked: " + Reason(e),
                cancellationToken);
        }

        // WebAuthn §6.1.3: whether a credential can be synced is fixed when it is made.
        if (BackupEligible(response.Response.AuthenticatorData) != passkey.BackupEligible)
            return await RefuseAsync(owner.Username, address, $"passkey \"{passkey.Name}\": backup eligibility changed",
                "The passkey could not be checked.", cancellationToken);
        if (!await store.UsePasskeyAsync(passkey.CredentialId, passkey.SignCount, verified.SignCount, verified.IsBackedUp, time.GetUtcNow(), cancellationToken))
            return await RefuseAsync(owner.Username, address, $"passkey \"{passkey.Name}\": used at the same time elsewhere",
                "The passkey could not be checked. Try again.", cancellationToken);

        await AuditAsync(AuditEvents.FactorUsed, AuditOutcomes.Success, owner.Username, address, $"passkey \"{passkey.Name}\"", cancellationToken);
        string kind = passkey.BackupEligible ? SignInMethods.SoftwareKey : SignInMethods.HardwareKey;
        return new PasskeyResult(UserAccount.From(owner), [kind, SignInMethods.UserVerified], null, passkey.Name);
    }

    public async Task<bool> RenameAsync(UserAccount user, string id, string name, CancellationToken cancellationToken)
    {
        name = name.Trim();
        return name.Length is > 0 and <= MaxNameLength && !name.Any(char.IsControl) && Decode(id) is { } credentialId &&
               await store.RenamePasskeyAsync(user.Id, credentialId, name, cancellationToken);
    }

    /// <summary>Removes one of the user's passkeys; its name, or null when they have none with that id.</summary>
    public async Task<string?> RemoveAsync(UserAccount user, string id, IPAddress? address, CancellationToken cancellationToken)
    {
        if (Decode(id) is not { } credentialId || await store.FindPasskeyAsync(credentialId, cancellationToken) is not { } passkey || passkey.UserId != user.Id ||
            !await store.RemovePasskeyAsync(user.Id, credentialId, cancellationToken))
            return null;
        await AuditAsync(AuditEvents.FactorRemoved, AuditOutcomes.Success, user.Username, address, $"passkey \"{passkey.Name}\"", cancellationToken);
        return passkey.Name;
    }

    /// <summary>The WebAuthn user handle of a user: their id (a random UUID, nothing personal, WebAuthn §14.6.1).</summary>
    private static byte[] UserHandle(string userId) => Encoding.UTF8.GetBytes(userId);

    private static byte[]? Decode(string id)
    {
        try
        {
            return id.Length is > 0 and <= 1400 ? Base64Url.DecodeFromChars(id) : null;
        }
        catch (FormatException)
        {
            return null;
        }
    }

    /// <summary>The BE flag (bit 3 of the flags byte after the 32-byte RP id hash, WebAuthn §6.1).</summary>
    private static bool BackupEligible(byte[] authenticatorData) => authenticatorData.Length > 32 && (authenticatorData[32] & 0x08) != 0;

    private static string Reason(Exception e) => e switch
    {
        Fido2VerificationException fido => fido.Message,
        JsonException => "the browser's answer is malformed",
        _ => "the browser's answer is malformed (" + e.GetType().Name + ")",
    };

    /// <summary>A ceremony opened: its user (null for a sign-in with any passkey) and its payload: a sign-in's challenge, a registration's options (JSON).</summary>
    private sealed record OpenCeremony(string? UserId, string Payload);

    private string Seal(string kind, string? userId, string payload)
    {
        string expires = (time.GetUtcNow() + Lifetime).ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
        payload = string.Join('\n', kind, userId ?? "", expires, payload);
        return Base64Url.EncodeToString(masterKeys.DataProtector.Protect(Encoding.UTF8.GetBytes(payload), Purpose));
    }

    /// <summary>
    /// A sealed ceremony of this kind, unexpired, whose challenge is taken now (so its answer counts once, whatever comes of
    /// it); null otherwise.
    /// </summary>
    private async Task<OpenCeremony?> OpenAsync(string state, string kind, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(state) || state.Length > 16 * 1024)
            return null;
        byte[] sealedValue;
        try
        {
            sealedValue = Base64Url.DecodeFromChars(state);
        }
        catch (FormatException)
        {
            return null;
        }

        if (masterKeys.DataProtector.Unprotect(sealedValue, Purpose) is not { } plain)
            return null;
        string[] parts = Encoding.UTF8.GetString(plain).Split('\n', 4);
        DateTimeOffset now = time.GetUtcNow();
        if (parts.Length != 4 || parts[0] != kind || !long.TryParse(parts[2], CultureInfo.InvariantCulture, out long expires) ||
            expires <= now.ToUnixTimeMilliseconds())
            return null;
        string challenge = kind == Get ? parts[3] : JsonDocument.Parse(parts[3]).RootElement.GetProperty("challenge").GetString()!;
        if (!await store.UseChallengeAsync(challenge, DateTimeOffset.FromUnixTimeMilliseconds(expires), now, cancellationToken))
            return null;
        return new OpenCeremony(parts[1].Length == 0 ? null : parts[1], parts[3]);
    }

    private async Task<PasskeyResult> RefuseAsync(string? username, IPAddress? address, string detail, string message, CancellationToken cancellationToken)
    {
        await AuditAsync(AuditEvents.FactorFailed, AuditOutcomes.Failure, username, address, "passkey: " + detail, cancellationToken);
        return new PasskeyResult(null, null, message);
    }

    private Task AuditAsync(string type, string outcome, string? username, IPAddress? address, string detail, CancellationToken cancellationToken) =>
        audit.WriteAsync(new AuditEvent(time.GetUtcNow(), type, outcome, Subject: username, Address: address?.ToString(), Detail: detail), cancellationToken);
}

/// <summary>The WebAuthn answers, read without reflection (Native AOT): Fido2's own context lacks the attestation's.</summary>
[JsonSerializable(typeof(AuthenticatorAttestationRawResponse))]
[JsonSerializable(typeof(AuthenticatorAssertionRawResponse))]
internal sealed partial class PasskeyJsonContext : JsonSerializerContext;

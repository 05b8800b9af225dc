using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;

namespace Latchkey.Tests.Support;

/// <summary>
/// A passkey authenticator in software, so that tests can register and sign in over HTTP without a browser. It holds one
/// P-256 credential, reads the options JSON a relying party sends, and answers with the JSON a browser's
/// <c>PublicKeyCredential.toJSON()</c> gives. It attests with format "none", as synced passkeys do, and checks nothing a
/// browser would check (the RP ID against the origin, allowCredentials): the relying party must, and tests see whether it does.
/// </summary>
public sealed class SoftwareAuthenticator : IDisposable
{
    // Authenticator data flags, WebAuthn §6.1.
    private const byte UserPresentFlag = 0x01;
    private const byte UserVerifiedFlag = 0x04;
    private const byte BackupEligibleFlag = 0x08;
    private const byte BackedUpFlag = 0x10;
    private const byte AttestedCredentialDataFlag = 0x40;

    private readonly ECDsa _key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
    private byte _backupFlags;

    /// <summary>A new credential: a fresh P-256 key and a random 16-byte id.</summary>
    /// <param name="backupEligible">Sets BE, as a synced passkey does.</param>
    /// <param name="backedUp">
    /// Sets BS. Without <paramref name="backupEligible"/> this is data WebAuthn forbids; it is allowed here so that a test
    /// can see the relying party refuse it.
    /// </param>
    public SoftwareAuthenticator(bool backupEligible = false, bool backedUp = false)
    {
        CredentialId = RandomNumberGenerator.GetBytes(16);
        _backupFlags = (byte)((backupEligible ? BackupEligibleFlag : 0) | (backedUp ? BackedUpFlag : 0));
    }

    public byte[] CredentialId { get; }

    /// <summary>Changes the BE and BS flags the next answers carry (BE is fixed for a real credential: a test of the relying party's check).</summary>
    public void SetBackupFlags(bool backupEligible, bool backedUp) =>
        _backupFlags = (byte)((backupEligible ? BackupEligibleFlag : 0) | (backedUp ? BackedUpFlag : 0));

    public string CredentialIdBase64Url => Base64Url.EncodeToString(CredentialId);

    /// <summary>The counter of the last assertion; the next one reports one more. Set it to replay or roll back a counter.</summary>
    public uint SignCount { get; set; }

    /// <summary>
    /// The user.id of the options <see cref="Create"/> last answered; <see cref="Get"/> sends it, as a discoverable
    /// credential does. Change or clear it to send another user's handle, or none.
    /// </summary>
    public byte[]? UserHandle { get; set; }

    /// <summary>
    /// Registers: answers PublicKeyCredentialCreationOptions JSON with a registration response. The counter reported is 0, as
    /// passkey providers report it. <paramref name="rpId"/> overrides the RP ID hashed into the authenticator data, to test
    /// a mismatch; without either, the origin's host is used, as a browser does.
    /// </summary>
    public string Create(string creationOptionsJson, string origin, bool userVerified = true, string? rpId = null)
    {
        JsonNode options = Parse(creationOptionsJson);
        string challenge = Text(options["challenge"], "challenge");
        UserHandle = Base64Url.DecodeFromChars(Text(options["user"]?["id"], "user.id"));
        rpId ??= (string?)options["rp"]?["id"] ?? new Uri(origin).Host;

        // Attested credential data, WebAuthn §6.5.1: AAGUID (zero for "none"), id length, id, then the COSE_Key.
        ECParameters publicKey = _key.ExportParameters(includePrivateParameters: false);
        var attested = new MemoryStream();
        attested.Write(new byte[16]);
        WriteUInt16(attested, (ushort)CredentialId.Length);
        attested.Write(CredentialId);
        // The EC2 COSE_Key (RFC 9053 §7.1) in CTAP2 canonical order, as authenticators send it.
        WriteHead(attested, MajorMap, 5);
        WriteInt(attested, 1);
        WriteInt(attested, 2);   // kty: EC2
        WriteInt(attested, 3);
        WriteInt(attested, -7);  // alg: ES256
        WriteInt(attested, -1);
        WriteInt(attested, 1);   // crv: P-256
        WriteInt(attested, -2);
        WriteBytes(attested, publicKey.Q.X!);
        WriteInt(attested, -3);
        WriteBytes(attested, publicKey.Q.Y!);

        byte flags = (byte)(Flags(userVerified) | AttestedCredentialDataFlag);
        byte[] authenticatorData = AuthenticatorData(rpId, flags, 0, attested.ToArray());

        // The attestation object, WebAuthn §6.5.4, keys in canonical order: {"fmt": "none", "attStmt": {}, "authData": …}.
        var attestationObject = new MemoryStream();
        WriteHead(attestationObject, MajorMap, 3);
        WriteText(attestationObject, "fmt");
        WriteText(attestationObject, "none");
        WriteText(attestationObject, "attStmt");
        WriteHead(attestationObject, MajorMap, 0);
        WriteText(attestationObject, "authData");
        WriteBytes(attestationObject, authenticatorData);

        return Credential(new JsonObject
        {
            ["clientDataJSON"] = Base64Url.EncodeToString(ClientData("webauthn.create", challenge, origin)),
            ["attestationObject"] = Base64Url.EncodeToString(attestationObject.ToArray()),
            ["transports"] = new JsonArray("internal"),
        });
    }

    /// <summary>
    /// Signs in: answers PublicKeyCredentialRequestOptions JSON with an assertion, after adding one to <see cref="SignCount"/>.
    /// <paramref name="rpId"/> overrides the RP ID as in <see cref="Create"/>.
    /// </summary>
    public string Get(string requestOptionsJson, string origin, bool userVerified = true, string? rpId = null)
    {
        JsonNode options = Parse(requestOptionsJson);
        string challenge = Text(options["challenge"], "challenge");
        rpId ??= (string?)options["rpId"] ?? new Uri(origin).Host;

        SignCount++;
        byte[] authenticatorData = AuthenticatorData(rpId, Flags(userVerified), SignCount, []);
        byte[] clientData = ClientData("webauthn.get", challenge, origin);
        // WebAuthn §6.3.3 step 11: the signature covers authenticatorData ‖ SHA-256(clientDataJSON), DER-encoded for ES256.
        byte[] signature = _key.SignData(
            [.. authenticatorData, .. SHA256.HashData(clientData)], HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);

        var response = new JsonObject
        {
            ["authenticatorData"] = Base64Url.EncodeToString(authenticatorData),
            ["clientDataJSON"] = Base64Url.EncodeToString(clientData),
            ["signature"] = Base64Url.EncodeToString(signature),
        };
        if (UserHandle is not null)
        {
            response["userHandle"] = Base64Url.EncodeToString(UserHandle);
        }
        return Credential(response);
    }

    public void Dispose() => _key.Dispose();

    private byte Flags(bool userVerified) => (byte)(UserPresentFlag | (userVerified ? UserVerifiedFlag : 0) | _backupFlags);

    private string Credential(JsonObject response) => new JsonObject
    {
        ["id"] = CredentialIdBase64Url,
        ["rawId"] = CredentialIdBase64Url,
        ["type"] = "public-key",
        ["response"] = response,
        ["clientExtensionResults"] = new JsonObject(),
    }.ToJsonString();

    /// <summary>The collected client data, WebAuthn §5.8.1; the challenge is decoded and encoded again, as a browser does.</summary>
    private static byte[] ClientData(string type, string challenge, string origin) => Encoding.UTF8.GetBytes(new JsonObject
    {
        ["type"] = type,
        ["challenge"] = Base64Url.EncodeToString(Base64Url.DecodeFromChars(challenge)),
        ["origin"] = origin,
        ["crossOrigin"] = false,
    }.ToJsonString());

    /// <summary>WebAuthn §6.1: SHA-256(RP ID) ‖ flags ‖ signCount (big-endian) ‖ attested credential data.</summary>
    private static byte[] AuthenticatorData(string rpId, byte flags, uint signCount, byte[] attestedCredentialData)
    {
        var data = new byte[32 + 1 + 4 + attestedCredentialData.Length];
        SHA256.HashData(Encoding.UTF8.GetBytes(rpId), data);
        data[32] = flags;
        BinaryPrimitives.WriteUInt32BigEndian(data.AsSpan(33), signCount);
        attestedCredentialData.CopyTo(data, 37);
        return data;
    }

    private static JsonNode Parse(string json) =>
        JsonNode.Parse(json) ?? throw new ArgumentException("The options are JSON null.", nameof(json));

    private static string Text(JsonNode? node, string name) =>
        (string?)node ?? throw new ArgumentException($"The options have no {name}.");

    // Just enough CBOR (RFC 8949) for the COSE_Key and the attestation object: definite lengths, no floats or tags.
    private const int MajorUnsigned = 0;
    private const int MajorNegative = 1;
    private const int MajorBytes = 2;
    private const int MajorText = 3;
    private const int MajorMap = 5;

    private static void WriteInt(Stream stream, int value) =>
        WriteHead(stream, value >= 0 ? MajorUnsigned : MajorNegative, value >= 0 ? value : -1 - value);

    private static void WriteBytes(Stream stream, byte[] value)
    {
        WriteHead(stream, MajorBytes, value.Length);
        stream.Write(value);
    }

    private static void WriteText(Stream stream, string value)
    {
        byte[] utf8 = Encoding.UTF8.GetBytes(value);
        WriteHead(stream, MajorText, utf8.Length);
        stream.Write(utf8);
    }

    /// <summary>The initial byte and argument of a data item, in the shortest form (RFC 8949 §3, §4.2.1).</summary>
    private static void WriteHead(Stream stream, int major, int argument)
    {
        int type = major << 5;
        if (argument < 24)
        {
            stream.WriteByte((byte)(type | argument));
        }
        else if (argument <= byte.MaxValue)
        {
            stream.WriteByte((byte)(type | 24));
            stream.WriteByte((byte)argument);
        }
        else
        {
            stream.WriteByte((byte)(type | 25));
            WriteUInt16(stream, checked((ushort)argument));
        }
    }

    private static void WriteUInt16(Stream stream, ushort value)
    {
        Span<byte> bytes = stackalloc byte[2];
        BinaryPrimitives.WriteUInt16BigEndian(bytes, value);
        stream.Write(bytes);
    }
}

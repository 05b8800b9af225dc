using System.Security.Cryptography;
using System.Text;

namespace Latchkey.Keys;

/// <summary>
/// Encrypts private keys at rest with AES-256-GCM under a key derived from the master key (HKDF-SHA256).
/// The key id is bound as associated data, so an encrypted key cannot be swapped onto another row.
/// Layout: version (1) | nonce (12) | tag (16) | ciphertext.
/// </summary>
public sealed class KeyProtector
{
    private const byte Version = 1;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _key;

    /// <summary>
    /// One cipher per thread: setting one up costs more than encrypting a form's token with it (the login page protects two
    /// or three), and an instance is not safe to share between threads at once.
    /// </summary>
    private readonly ThreadLocal<AesGcm> _cipher;

    public KeyProtector(byte[] masterKey)
        : this(masterKey, "latchkey/signing-key/v1"u8)
    {
    }

    /// <summary>A protector under another key derived from the master key, for another use (<paramref name="info"/> names it).</summary>
    internal KeyProtector(byte[] masterKey, ReadOnlySpan<byte> info)
    {
        _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, masterKey, 32, salt: [], info: info.ToArray());
        _cipher = new ThreadLocal<AesGcm>(() => new AesGcm(_key, TagSize));
    }

    public byte[] Protect(byte[] plaintext, string keyId)
    {
        byte[] output = new byte[1 + NonceSize + TagSize + plaintext.Length];
        output[0] = Version;
        Span<byte> nonce = output.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        _cipher.Value!.Encrypt(nonce, plaintext, output.AsSpan(1 + NonceSize + TagSize), output.AsSpan(1 + NonceSize, TagSize), Encoding.UTF8.GetBytes(keyId));
        return output;
    }

    /// <summary>Decrypts, or returns null when the master key is not the one the key was encrypted with (or the data was altered).</summary>
    public byte[]? Unprotect(byte[] protectedData, string keyId)
    {
        if (protectedData.Length < 1 + NonceSize + TagSize || protectedData[0] != Version)
            return null;
        byte[] plaintext = new byte[protectedData.Length - 1 - NonceSize - TagSize];
        try
        {
            _cipher.Value!.Decrypt(protectedData.AsSpan(1, NonceSize), protectedData.AsSpan(1 + NonceSize + TagSize),
                protectedData.AsSpan(1 + NonceSize, TagSize), plaintext, Encoding.UTF8.GetBytes(keyId));
            return plaintext;
        }
        catch (AuthenticationTagMismatchException)
        {
            return null;
        }
    }
}

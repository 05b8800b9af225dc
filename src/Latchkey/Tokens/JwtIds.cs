using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Latchkey.Tokens;

/// <summary>
/// Access-token ids (<c>jti</c>) are UUIDv7 (RFC 9562 §5.7): 48 bits of Unix milliseconds, then 74 random bits. The time
/// is when the token's authority was established, to the millisecond (<c>iat</c> has whole seconds): when its login began,
/// or its client's record was read, never later than its issue. A user's cut-off at 12:00:00.400 refuses a login begun at
/// 12:00:00.300 even if its token was minted at 12:00:00.450, and accepts one begun at 12:00:00.500, right after a password
/// change or a logout. The random bits come from the system's CSPRNG: ids are unique, and unguessable as before.
/// </summary>
internal static class JwtIds
{
    public static string New(DateTimeOffset issuedAt)
    {
        Span<byte> bytes = stackalloc byte[16];
        RandomNumberGenerator.Fill(bytes);
        long milliseconds = issuedAt.ToUnixTimeMilliseconds();
        Span<byte> time = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(time, milliseconds);
        time[2..].CopyTo(bytes);
        bytes[6] = (byte)((bytes[6] & 0x0F) | 0x70); // version 7
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // the RFC 9562 variant
        return new Guid(bytes, bigEndian: true).ToString();
    }

    /// <summary>The issue time carried by a UUIDv7 <c>jti</c>, in Unix milliseconds; false for any other shape.</summary>
    public static bool TryReadIssuedAt(string? jti, out long unixMilliseconds)
    {
        unixMilliseconds = 0;
        if (jti is not { Length: 36 } || !Guid.TryParseExact(jti, "D", out Guid id) || id.Version != 7)
            return false;
        Span<byte> bytes = stackalloc byte[16];
        id.TryWriteBytes(bytes, bigEndian: true, out _);
        Span<byte> time = stackalloc byte[8];
        bytes[..6].CopyTo(time[2..]);
        unixMilliseconds = BinaryPrimitives.ReadInt64BigEndian(time);
        return true;
    }
}

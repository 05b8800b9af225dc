using System.Globalization;
using System.Text;
using Latchkey.Keys;
using Latchkey.Protocol;
using Latchkey.Storage;

namespace Latchkey.Accounts;

/// <summary>A sign-in halfway: the user gave their password (or has a session, for a step-up) and is asked for a second factor.</summary>
internal sealed record PendingSignIn(UserAccount User, IReadOnlyList<string> Amr);

/// <summary>
/// Carries a sign-in waiting for its second factor through the form that asks for it: the user, how far they got, and when,
/// encrypted and authenticated under the master key (every node reads it) and valid for <see cref="Lifetime"/>. Nothing is
/// stored until the second factor is given; the account is read again then, so a password change, a disable or a cut-off
/// in between ends the pending sign-in too.
/// </summary>
internal sealed class PendingSignIns(MasterKeys masterKeys, IUserStore users, TimeProvider time)
{
    /// <summary>How long the second-factor form stays valid after the password.</summary>
    public static readonly TimeSpan Lifetime = TimeSpan.FromMinutes(5);

    /// <summary>The associated data of the encryption: a value made for anything else does not decrypt as one of these.</summary>
    private const string Purpose = "latchkey/second-factor-pending/v1";

    public string Protect(UserAccount user, IReadOnlyList<string> amr)
    {
        DateTimeOffset now = time.GetUtcNow();
        // When the first step was done, to the tick: a cut-off of the user's (stored to the millisecond) at or after it ends it.
        string payload = string.Join('\n', user.Id, Ms(user.PasswordChangedAt), now.UtcTicks.ToString(CultureInfo.InvariantCulture), Ms(now + Lifetime),
            SignInMethods.Format(amr));
        return System.Buffers.Text.Base64Url.EncodeToString(masterKeys.DataProtector.Protect(Encoding.UTF8.GetBytes(payload), Purpose));
    }

    /// <summary>The pending sign-in, or null when the value is not ours, has expired, or its account changed since.</summary>
    public async Task<PendingSignIn?> ReadAsync(string? value, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(value) || value.Length > 2048)
            return null;
        byte[] sealedValue;
        try
        {
            sealedValue = System.Buffers.Text.Base64Url.DecodeFromChars(value);
        }
        catch (FormatException)
        {
            return null;
        }

        if (masterKeys.DataProtector.Unprotect(sealedValue, Purpose) is not { } plain)
            return null;
        string[] parts = Encoding.UTF8.GetString(plain).Split('\n');
        if (parts.Length != 5 || !long.TryParse(parts[1], CultureInfo.InvariantCulture, out long passwordChanged) ||
            !long.TryParse(parts[2], CultureInfo.InvariantCulture, out long began) || !long.TryParse(parts[3], CultureInfo.InvariantCulture, out long expires) ||
            expires <= time.GetUtcNow().ToUnixTimeMilliseconds())
            return null;
        UserRecord? user = await users.FindByIdAsync(parts[0], cancellationToken);
        if (user is null || user.Disabled || user.PasswordChangedAt.ToUnixTimeMilliseconds() != passwordChanged ||
            user.TokensValidAfter?.UtcTicks >= began)
            return null;
        return new PendingSignIn(UserAccount.From(user), SignInMethods.Parse(parts[4]));
    }

    private static string Ms(DateTimeOffset at) => at.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture);
}

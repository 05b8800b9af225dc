using System.Net;
using System.Security.Cryptography;
using System.Text;
using Latchkey.Audit;
using Latchkey.Keys;
using Latchkey.Protocol;
using Latchkey.Storage;
using OtpNet;

namespace Latchkey.Accounts;

/// <summary>An authenticator app being set up: its secret, in text and as the <c>otpauth://</c> URI its QR code carries.</summary>
public sealed record TotpEnrolment(string Secret, string Uri);

/// <summary>How a second-factor code was taken: accepted (by which method), refused (and why, for the log), or throttled.</summary>
public sealed record SecondFactorResult(string? Method, string? Failure, TimeSpan? RetryAfter = null)
{
    public bool Succeeded => Method is not null;
}

/// <summary>
/// Second factors, the one owner of their rules: an authenticator app (TOTP, RFC 6238: SHA-1, 6 digits, 30 s, one step either
/// side, each step's code accepted once) and ten one-time recovery codes, made when a factor is enabled and shown once.
/// Every code is checked through the login throttle under a key of its own (per user and address, back-off from the
/// threshold), so a 6-digit code cannot be found by retrying. Secrets are encrypted under the master key, bound to their
/// user; recovery codes are kept only as an HMAC under a key derived from it.
/// </summary>
internal sealed class SecondFactors(ISecondFactorStore store, MasterKeys masterKeys, LoginThrottle throttle, AuditTrail audit,
    Microsoft.Extensions.Options.IOptions<LatchkeyOptions> options, TimeProvider time)
{
    public const int RecoveryCodeCount = 10;

    /// <summary>
    /// Wrong codes in a row, from any address, after which codes are refused for <see cref="CodeLockout"/> (then one try at a
    /// time): beside the login throttle's per-address limits, a cap that rotating addresses cannot get around. At most 10
    /// guesses, then 24 a day, each matching 3 of a million codes: NIST SP 800-63B §5.2.2 allows up to 100.
    /// </summary>
    public const int MaxCodeFailuresInARow = 10;

    public static readonly TimeSpan CodeLockout = TimeSpan.FromHours(1);

    /// <summary>The failure of a code whose time step was accepted before (RFC 6238 §5.2).</summary>
    public const string CodeAlreadyUsed = "code already used";
    private const int TotpDigits = 6;
    private static readonly VerificationWindow OneStepEitherSide = new(previous: 1, future: 1);

    /// <summary>Recovery codes are 12 characters of this alphabet (60 bits), shown as three groups of four.</summary>
    private const string RecoveryAlphabet = "0123456789abcdefghjkmnpqrstvwxyz";

    /// <summary>
    /// Whether the user must sign in with two factors: the policy (<see cref="MfaOptions.Require"/>) says so for them, or the
    /// client they sign in to requires it (<paramref name="clientRequires"/>).
    /// </summary>
    public bool IsRequired(UserAccount user, bool clientRequires) => clientRequires || options.Value.Mfa.Require switch
    {
        MfaOptions.RequireEveryone => true,
        MfaOptions.RequireAdmins => user.Roles.Contains(Roles.Admin),
        _ => false,
    };

    /// <summary>Whether the user has a second factor to be asked for after their password: an authenticator app, or a passkey.</summary>
    public async Task<bool> HasAnyAsync(string userId, CancellationToken cancellationToken) =>
        await HasTotpAsync(userId, cancellationToken) || await HasPasskeyAsync(userId, cancellationToken);

    public async Task<bool> HasTotpAsync(string userId, CancellationToken cancellationToken) =>
        await store.FindTotpAsync(userId, cancellationToken) is { ConfirmedAt: not null };

    public async Task<bool> HasPasskeyAsync(string userId, CancellationToken cancellationToken) =>
        (await store.ListPasskeysAsync(userId, cancellationToken)).Count > 0;

    /// <summary>
    /// After a factor was removed: when none is left, the recovery codes go too (they stood in for a factor the user no
    /// longer has). True when none is left.
    /// </summary>
    public async Task<bool> ForgetCodesIfNoFactorAsync(string userId, CancellationToken cancellationToken)
    {
        if (await HasAnyAsync(userId, cancellationToken))
            return false;
        await store.ReplaceRecoveryCodesAsync(userId, [], time.GetUtcNow(), cancellationToken);
        return true;
    }


    public Task<int> CountRecoveryCodesAsync(string userId, CancellationToken cancellationToken) =>
        store.CountUnusedRecoveryCodesAsync(userId, cancellationToken);

    /// <summary>Starts setting up an authenticator app (a new secret, unconfirmed); null when the user has one already.</summary>
    public async Task<TotpEnrolment?> BeginTotpAsync(UserAccount user, string issuerName, CancellationToken cancellationToken)
    {
        byte[] secret = RandomNumberGenerator.GetBytes(20); // 160 bits, RFC 4226 §4's recommendation
        var record = new TotpFactorRecord(user.Id, masterKeys.FactorProtector.Protect(secret, user.Id), time.GetUtcNow(), null, 0, null);
        if (!await store.BeginTotpAsync(record, cancellationToken))
            return null;
        return Enrolment(secret, user.Username, issuerName);
    }

    /// <summary>The enrolment in progress (its secret shown again, when the page is reloaded), or null.</summary>
    public async Task<TotpEnrolment?> PendingTotpAsync(UserAccount user, string issuerName, CancellationToken cancellationToken) =>
        await store.FindTotpAsync(user.Id, cancellationToken) is { ConfirmedAt: null } pending && Secret(pending) is { } secret
            ? Enrolment(secret, user.Username, issuerName)
            : null;

    /// <summary>
    /// Confirms the app with its first code, and returns the new recovery codes (to be shown once); null with the reason when
    /// the code is wrong or there is no enrolment to confirm.
    /// </summary>
    public async Task<(IReadOnlyList<string>? RecoveryCodes, string? Failure)> ConfirmTotpAsync(UserAccount user, string code, IPAddress? address,
        CancellationToken cancellationToken)
    {
        SecondFactorResult result = await CheckThrottledAsync(user, address, async () =>
        {
            if (await store.FindTotpAsync(user.Id, cancellationToken) is not { ConfirmedAt: null } pending || Secret(pending) is not { } secret)
                return "no authenticator app is being set up";
            if (!MatchTotp(secret, code, out long step))
                return "wrong code";
            return await store.UseTotpStepAsync(user.Id, step, confirming: true, time.GetUtcNow(), cancellationToken, pending.CreatedAt) ? null : CodeAlreadyUsed;
        }, SignInMethods.OneTimeCode, audited: false, cancellationToken);
        if (!result.Succeeded)
            return (null, result.RetryAfter is null ? result.Failure : "throttled");

        await AuditAsync(AuditEvents.FactorAdded, user, "authenticator app", address, cancellationToken);
        return (await NewRecoveryCodesAsync(user, address, cancellationToken), null);
    }

    /// <summary>Makes ten new recovery codes, replacing the old ones, and returns them: shown once, stored only as HMACs.</summary>
    public async Task<IReadOnlyList<string>> NewRecoveryCodesAsync(UserAccount user, IPAddress? address, CancellationToken cancellationToken)
    {
        string[] codes = Enumerable.Range(0, RecoveryCodeCount).Select(_ => NewRecoveryCode()).ToArray();
        await store.ReplaceRecoveryCodesAsync(user.Id, codes.Select(c => RecoveryCodeHash(user.Id, c)).ToArray(), time.GetUtcNow(), cancellationToken);
        await AuditAsync(AuditEvents.RecoveryCodesCreated, user, $"{RecoveryCodeCount} recovery codes", address, cancellationToken);
        return codes;
    }

    /// <summary>Removes the authenticator app (the user's own choice), and the recovery codes with the last factor; false when there was no app.</summary>
    public async Task<bool> RemoveTotpAsync(UserAccount user, IPAddress? address, CancellationToken cancellationToken)
    {
        bool hadConfirmed = await HasTotpAsync(user.Id, cancellationToken);
        if (!await store.RemoveTotpAsync(user.Id, cancellationToken))
            return false;
        await ForgetCodesIfNoFactorAsync(user.Id, cancellationToken);
        if (hadConfirmed)
            await AuditAsync(AuditEvents.FactorRemoved, user, "authenticator app", address, cancellationToken);
        return true;
    }

    /// <summary>An admin's reset: every second factor and recovery code of the user goes; audited with the admin's name.</summary>
    public async Task<int> ResetAsync(UserAccount user, string actor, CancellationToken cancellationToken)
    {
        int removed = await store.RemoveAllAsync(user.Id, cancellationToken);
        await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.MfaReset, AuditOutcomes.Success, Actor: actor, Subject: user.Username,
            Detail: $"second factors and recovery codes removed ({removed} records)"), cancellationToken);
        return removed;
    }

    /// <summary>
    /// Checks a code typed after the password: the authenticator app's current code (6 digits) or an unused recovery code. A
    /// success returns the method for <c>amr</c> (<c>otp</c> for both); every attempt is throttled and audited.
    /// </summary>
    public async Task<SecondFactorResult> VerifyAsync(UserAccount user, string code, IPAddress? address, CancellationToken cancellationToken)
    {
        string typed = code.Trim();
        bool isTotp = typed.Length == TotpDigits && typed.All(char.IsAsciiDigit);
        return await CheckThrottledAsync(user, address, async () =>
        {
            DateTimeOffset now = time.GetUtcNow();
            if (isTotp)
            {
                if (await store.FindTotpAsync(user.Id, cancellationToken) is not { ConfirmedAt: not null } factor || Secret(factor) is not { } secret)
                    return "no authenticator app";
                if (!MatchTotp(secret, typed, out long step))
                    return "wrong code";
                return await store.UseTotpStepAsync(user.Id, step, confirming: false, now, cancellationToken) ? null : CodeAlreadyUsed;
            }

            string? normalized = NormalizeRecoveryCode(typed);
            if (normalized is null || !await store.UseRecoveryCodeAsync(user.Id, RecoveryCodeHash(user.Id, normalized), now, cancellationToken))
                return "wrong or used recovery code";
            int left = await store.CountUnusedRecoveryCodesAsync(user.Id, cancellationToken);
            await AuditAsync(AuditEvents.RecoveryCodeUsed, user, $"{left} left", address, cancellationToken);
            return null;
        }, SignInMethods.OneTimeCode, audited: true, cancellationToken);
    }

    /// <summary>
    /// An app asked for <paramref name="level"/> and the session's sign-in (<paramref name="amr"/>) is below it: audited, and
    /// true when the user can reach it with a second factor now (two factors, and they have one).
    /// </summary>
    public async Task<bool> StepUpRequiredAsync(UserAccount user, IReadOnlyList<string> amr, string level, string clientId, IPAddress? address,
        CancellationToken cancellationToken)
    {
        bool canStepUp = level switch
        {
            AuthenticationLevels.TwoFactors => await HasAnyAsync(user.Id, cancellationToken),
            AuthenticationLevels.PhishingResistant => await HasPasskeyAsync(user.Id, cancellationToken),
            _ => false,
        };
        await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.StepUpRequired, canStepUp ? AuditOutcomes.Success : AuditOutcomes.Failure,
            Subject: user.Username, ClientId: clientId, Address: address?.ToString(),
            Detail: $"{clientId} asked for {level}; the session has {AuthenticationLevels.Of(amr)}" +
                    (canStepUp ? "" : ", and the user has no factor that reaches it")), cancellationToken);
        return canStepUp;
    }

    /// <summary>
    /// Runs <paramref name="check"/> (null: accepted, else why not) inside the login throttle, under a key of its own for the
    /// user's codes: a lock refuses before the code is looked at; every attempt counts before it is checked.
    /// </summary>
    private async Task<SecondFactorResult> CheckThrottledAsync(UserAccount user, IPAddress? address, Func<Task<string?>> check, string method, bool audited,
        CancellationToken cancellationToken)
    {
        LoginSubject who = throttle.Subject("second-factor\n" + user.Username, address, user.Username, clientId: null);
        (TimeSpan? locked, LoginThrottleCounts counts) = await throttle.CheckAsync(who, cancellationToken);
        if (locked is { } wait)
            return new SecondFactorResult(null, "throttled", wait);
        (LoginAttempt attempt, TimeSpan? overBudget) = await throttle.StartAttemptAsync(who, counts, cancellationToken);
        if (overBudget is { } over)
            return new SecondFactorResult(null, "throttled", over);
        DateTimeOffset now = time.GetUtcNow();
        if (await store.StartCodeAttemptAsync(user.Id, MaxCodeFailuresInARow, now - CodeLockout, now, cancellationToken) is not { } inARow)
        {
            await throttle.FailedAsync(who, attempt, counts, cancellationToken);
            return new SecondFactorResult(null, "throttled", CodeLockout);
        }

        string? failure = await check();
        if (failure is not null)
        {
            await throttle.FailedAsync(who, attempt, counts, cancellationToken);
            string detail = inARow >= MaxCodeFailuresInARow ? $"{failure}; {inARow} wrong codes in a row: codes refused for {CodeLockout.TotalMinutes} minutes" : failure;
            await audit.WriteAsync(new AuditEvent(time.GetUtcNow(), AuditEvents.FactorFailed, AuditOutcomes.Failure, Subject: user.Username,
                Address: address?.ToString(), Detail: detail), cancellationToken);
            return new SecondFactorResult(null, failure);
        }

        await store.ClearFailuresAsync(user.Id, cancellationToken);
        await throttle.SucceededAsync(who, attempt, cancellationToken);
        if (audited)
            await AuditAsync(AuditEvents.FactorUsed, user, "one-time code", address, cancellationToken);
        return new SecondFactorResult(method, null);
    }

    private bool MatchTotp(byte[] secret, string code, out long step)
    {
        step = 0;
        if (code.Length != TotpDigits || !code.All(char.IsAsciiDigit))
            return false;
        return new Totp(secret, step: 30, mode: OtpHashMode.Sha1, totpSize: TotpDigits)
            .VerifyTotp(time.GetUtcNow().UtcDateTime, code, out step, OneStepEitherSide);
    }

    private byte[]? Secret(TotpFactorRecord factor) => masterKeys.FactorProtector.Unprotect(factor.ProtectedSecret, factor.UserId);

    private static TotpEnrolment Enrolment(byte[] secret, string username, string issuerName)
    {
        string text = Base32Encoding.ToString(secret).TrimEnd('=');
        // Key URI format (Google Authenticator's, which every app reads): the label is "issuer:account".
        string label = Uri.EscapeDataString(issuerName) + ":" + Uri.EscapeDataString(username);
        return new TotpEnrolment(text, $"otpauth://totp/{label}?secret={text}&issuer={Uri.EscapeDataString(issuerName)}&algorithm=SHA1&digits=6&period=30");
    }

    private static string NewRecoveryCode()
    {
        Span<char> code = stackalloc char[14];
        int j = 0;
        for (int i = 0; i < 12; i++)
        {
            if (i is 4 or 8)
                code[j++] = '-';
            code[j++] = RecoveryAlphabet[RandomNumberGenerator.GetInt32(RecoveryAlphabet.Length)];
        }

        return new string(code);
    }

    /// <summary>A recovery code as typed (any case, with or without dashes and spaces), in its stored form; null when it cannot be one.</summary>
    private static string? NormalizeRecoveryCode(string typed)
    {
        string compact = new string(typed.Where(c => c is not ('-' or ' ')).ToArray()).ToLowerInvariant();
        if (compact.Length != 12 || compact.Any(c => !RecoveryAlphabet.Contains(c)))
            return null;
        return $"{compact[..4]}-{compact[4..8]}-{compact[8..]}";
    }

    private string RecoveryCodeHash(string userId, string code) =>
        Convert.ToHexStringLower(HMACSHA256.HashData(masterKeys.LoginNameKey, Encoding.UTF8.GetBytes("recovery-code\n" + userId + "\n" + code)));

    private Task AuditAsync(string type, UserAccount user, string detail, IPAddress? address, CancellationToken cancellationToken) =>
        audit.WriteAsync(new AuditEvent(time.GetUtcNow(), type, AuditOutcomes.Success, Subject: user.Username, Address: address?.ToString(), Detail: detail),
            cancellationToken);
}

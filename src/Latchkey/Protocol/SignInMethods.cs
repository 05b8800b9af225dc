namespace Latchkey.Protocol;

/// <summary>
/// How a user signed in, as the <c>amr</c> claim says it (RFC 8176), and the levels (<c>acr</c>) a sign-in reaches. A sign-in's
/// methods are stored as one space-separated text (a session's, a code's, a refresh family's), and its level is derived from
/// them, never stored apart: the two cannot disagree.
/// </summary>
public static class SignInMethods
{
    /// <summary>A password.</summary>
    public const string Password = "pwd";

    /// <summary>A one-time code: an authenticator app's (TOTP) or a recovery code.</summary>
    public const string OneTimeCode = "otp";

    /// <summary>A passkey kept in hardware (a security key, a platform authenticator that is not synced).</summary>
    public const string HardwareKey = "hwk";

    /// <summary>A passkey kept in software (synced between devices).</summary>
    public const string SoftwareKey = "swk";

    /// <summary>The authenticator verified the user (a PIN, a fingerprint): a passkey with it is two factors on its own.</summary>
    public const string UserVerified = "user";

    /// <summary>Two factors were used, a verified passkey included.</summary>
    public const string MultipleFactors = "mfa";

    /// <summary>The methods of a sign-in, read from how they are stored; an empty or missing text is a password (every sign-in before these were stored).</summary>
    public static IReadOnlyList<string> Parse(string? stored) =>
        string.IsNullOrWhiteSpace(stored) ? [Password] : stored.Split(' ', StringSplitOptions.RemoveEmptyEntries);

    public static string Format(IEnumerable<string> methods) => string.Join(' ', methods);

    /// <summary>The methods once a second factor (<paramref name="factor"/>) has followed <paramref name="first"/>: both, and <c>mfa</c>.</summary>
    public static IReadOnlyList<string> WithSecondFactor(IReadOnlyList<string> first, params string[] factor) =>
        [.. first.Concat(factor).Where(m => m != MultipleFactors).Distinct(StringComparer.Ordinal), MultipleFactors];
}

/// <summary>
/// The authentication context classes (<c>acr</c>) Latchkey knows, weakest first, each met by every stronger one: a password
/// alone; two factors (a password and a one-time code, or a verified passkey); a passkey, which no phishing site can replay
/// (the OpenID Foundation's EAP value <c>phr</c>). An app asks for one with <c>acr_values</c>, and a session below it steps up.
/// </summary>
public static class AuthenticationLevels
{
    public const string Password = "urn:latchkey:acr:password";
    public const string TwoFactors = "urn:latchkey:acr:mfa";
    public const string PhishingResistant = "phr";

    /// <summary>Weakest first: discovery's <c>acr_values_supported</c>.</summary>
    public static readonly string[] Supported = [Password, TwoFactors, PhishingResistant];

    /// <summary>The strongest level the methods reach.</summary>
    public static string Of(IReadOnlyList<string> methods)
    {
        bool passkey = methods.Contains(SignInMethods.HardwareKey) || methods.Contains(SignInMethods.SoftwareKey);
        if (passkey && (methods.Contains(SignInMethods.UserVerified) || methods.Contains(SignInMethods.MultipleFactors)))
            return PhishingResistant;
        return methods.Contains(SignInMethods.MultipleFactors) ? TwoFactors : Password;
    }

    /// <summary>Whether a sign-in with these methods meets <paramref name="level"/> (one of <see cref="Supported"/>).</summary>
    public static bool Meets(IReadOnlyList<string> methods, string level) =>
        Array.IndexOf(Supported, Of(methods)) >= Array.IndexOf(Supported, level);

    /// <summary>
    /// The weakest of the levels an app asked for that Latchkey knows, or null when it named none it knows (<c>acr_values</c> is
    /// a list of preferences, OpenID Connect Core §3.1.2.1: an unknown value asks for nothing Latchkey can give).
    /// </summary>
    public static string? WeakestKnown(IEnumerable<string> requested) =>
        requested.Where(r => Array.IndexOf(Supported, r) >= 0).OrderBy(r => Array.IndexOf(Supported, r)).FirstOrDefault();
}

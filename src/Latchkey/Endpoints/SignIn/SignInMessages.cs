using Latchkey.Accounts;

namespace Latchkey.Endpoints.SignIn;

/// <summary>What the hosted pages tell a person when a step of their sign-in fails: the same words on every page.</summary>
internal static class SignInMessages
{
    public const string Expired = "Your sign-in has expired. Sign in again.";
    public const string Busy = "Sign-in is busy right now. Try again in a moment.";
    public const string EnterCode = "Enter the code from your authenticator app, or a recovery code.";
    public const string WrongFirstCode = "That code is not right. Enter the code your authenticator app shows now.";

    /// <summary>A throttled attempt: sets <c>Retry-After</c> and says how long to wait.</summary>
    public static string TooManyAttempts(HttpResponse response, TimeSpan wait)
    {
        int seconds = Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds));
        response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return $"Too many attempts. Try again in {seconds} seconds.";
    }

    /// <summary>A code that was not accepted: used already (so the person waits for the next one), or wrong.</summary>
    public static string CodeRefused(SecondFactorResult result) =>
        result.Failure == SecondFactors.CodeAlreadyUsed ? "That code has been used already. Wait for the next one." : "That code is not right. Try again.";

    /// <summary>What the step after the password asks for: the app's code, a passkey, or either.</summary>
    public static string SecondFactorLead(bool totp, bool passkey, string? clientId)
    {
        string ask = (totp, passkey) switch
        {
            (true, true) => "Use one of your passkeys, or enter the code your authenticator app shows",
            (false, true) => "Use one of your passkeys",
            _ => "Open your authenticator app and enter the code it shows",
        };
        return clientId is null ? ask + "." : $"{ask}, to continue to {clientId}.";
    }
}

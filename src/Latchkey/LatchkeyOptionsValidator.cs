using Latchkey.Jose;
using Microsoft.Extensions.Options;

namespace Latchkey;

/// <summary>
/// Checks the whole configuration at start-up and reports every problem at once, each with how to fix it,
/// rather than failing on the first one or at the first request.
/// </summary>
public sealed class LatchkeyOptionsValidator : IValidateOptions<LatchkeyOptions>
{
    public ValidateOptionsResult Validate(string? name, LatchkeyOptions options)
    {
        List<string> problems = Problems(options);
        return problems.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(problems);
    }

    /// <param name="o">The options.</param>
    /// <param name="listenUrls">The host's public listen URLs (<c>--urls</c>), when known, to check that /metrics has a port of its own.</param>
    public static List<string> Problems(LatchkeyOptions o, string? listenUrls = null)
    {
        var problems = new List<string>();

        if (string.IsNullOrWhiteSpace(o.Issuer))
            problems.Add("Latchkey:Issuer is not set. Set it to the public URL of this server, e.g. --issuer https://auth.example.com (LATCHKEY__ISSUER).");
        else if (!Uri.TryCreate(o.Issuer, UriKind.Absolute, out Uri? issuer) || issuer.Scheme is not ("http" or "https") ||
                 !string.IsNullOrEmpty(issuer.Query) || !string.IsNullOrEmpty(issuer.Fragment))
            problems.Add($"Latchkey:Issuer '{o.Issuer}' is not an http(s) URL without query or fragment (RFC 8414 §2). Use e.g. https://auth.example.com.");

        if (string.IsNullOrWhiteSpace(o.Audience))
            problems.Add("Latchkey:Audience is empty. Set it to the name of the API your tokens are for, e.g. \"api\".");

        if (o.AccessTokenLifetime < TimeSpan.FromSeconds(30) || o.AccessTokenLifetime > TimeSpan.FromHours(24))
            problems.Add($"Latchkey:AccessTokenLifetime {o.AccessTokenLifetime} is outside 00:00:30 to 24:00:00. Access tokens cannot be recalled: keep them short (default 00:30:00).");

        if (!JwtAlgorithms.IsSupported(o.SigningAlgorithm))
            problems.Add($"Latchkey:SigningAlgorithm '{o.SigningAlgorithm}' is not supported. Use one of: {string.Join(", ", JwtAlgorithms.Supported)}.");
        else if (JwtAlgorithms.IsHmac(o.SigningAlgorithm))
        {
            int need = HmacJwsKey.MinimumBytes(o.SigningAlgorithm);
            int have = o.HmacSecret is null ? 0 : System.Text.Encoding.UTF8.GetByteCount(o.HmacSecret);
            if (have < need)
                problems.Add($"Latchkey:HmacSecret is {have} bytes; {o.SigningAlgorithm} needs at least {need} (RFC 7518 §3.2). " +
                             $"Generate one with: openssl rand -base64 {need} — or use the default ES256, which needs no shared secret.");
        }

        if (string.IsNullOrWhiteSpace(o.Database))
        {
            if (CheckDataDirectory(o.DataDirectory) is { } dataProblem)
                problems.Add(dataProblem);
        }
        else
        {
            problems.AddRange(CheckPostgres(o));
        }

        if (!string.IsNullOrWhiteSpace(o.MasterKey) && !IsBase64Key(o.MasterKey))
            problems.Add("Latchkey:MasterKey is not 32 bytes of base64. Generate one with: openssl rand -base64 32");

        if (o.Scopes.Count == 0 || o.Scopes.Any(s => s.Length == 0 || s.Any(c => c <= ' ' || c is '"' or '\\' || c > '~')))
            problems.Add("Latchkey:Scopes must list at least one scope, each without spaces, quotes or backslashes (RFC 6749 §3.3).");

        if (o.MaxTokenRequestBytes is < 1024 or > 1024 * 1024)
            problems.Add($"Latchkey:MaxTokenRequestBytes {o.MaxTokenRequestBytes} is outside 1024 to 1048576.");

        if (o.RevocationRefreshInterval < TimeSpan.FromMilliseconds(100) || o.RevocationRefreshInterval > TimeSpan.FromMinutes(1))
            problems.Add($"Latchkey:RevocationRefreshInterval {o.RevocationRefreshInterval} is outside 00:00:00.1 to 00:01:00 (default 00:00:05).");

        if (o.ClientCacheLifetime < TimeSpan.Zero || o.ClientCacheLifetime > TimeSpan.FromMinutes(1))
            problems.Add($"Latchkey:ClientCacheLifetime {o.ClientCacheLifetime} is outside 00:00:00 to 00:01:00 (default 00:00:05; 0 reads the database every time).");

        KeyOptions k = o.Keys;
        if (k.RefreshInterval < TimeSpan.FromSeconds(1) || k.RefreshInterval > TimeSpan.FromMinutes(10))
            problems.Add($"Latchkey:Keys:RefreshInterval {k.RefreshInterval} is outside 00:00:01 to 00:10:00 (default 00:00:30).");
        if (k.JwksCacheLifetime < TimeSpan.Zero || k.JwksCacheLifetime > TimeSpan.FromDays(1))
            problems.Add($"Latchkey:Keys:JwksCacheLifetime {k.JwksCacheLifetime} is outside 00:00:00 to 1.00:00:00 (default 00:05:00).");
        if (k.RotationInterval < TimeSpan.Zero || (k.RotationInterval > TimeSpan.Zero && k.RotationInterval < TimeSpan.FromHours(1)))
            problems.Add($"Latchkey:Keys:RotationInterval {k.RotationInterval} must be 0 (off) or at least 01:00:00 (default 90.00:00:00).");

        RefreshTokenOptions r = o.RefreshTokens;
        if (r.SlidingLifetime <= TimeSpan.Zero || r.AbsoluteLifetime < r.SlidingLifetime)
            problems.Add($"Latchkey:RefreshTokens:SlidingLifetime ({r.SlidingLifetime}) must be positive and at most AbsoluteLifetime ({r.AbsoluteLifetime}).");
        if (r.ReuseWindow < TimeSpan.Zero || r.ReuseWindow > TimeSpan.FromMinutes(5))
            problems.Add($"Latchkey:RefreshTokens:ReuseWindow {r.ReuseWindow} is outside 00:00:00 to 00:05:00 (LATCHKEY__REFRESHTOKENS__REUSEWINDOW; 0 turns the grace off).");

        SessionOptions sessions = o.Sessions;
        if (sessions.IdleTimeout <= TimeSpan.Zero || sessions.AbsoluteLifetime < sessions.IdleTimeout)
            problems.Add($"Latchkey:Sessions:IdleTimeout ({sessions.IdleTimeout}) must be positive and at most AbsoluteLifetime ({sessions.AbsoluteLifetime}).");
        if (o.Mfa.Require is not (MfaOptions.RequireNone or MfaOptions.RequireAdmins or MfaOptions.RequireEveryone))
            problems.Add($"Latchkey:Mfa:Require '{o.Mfa.Require}' is not one of none, admins, everyone (LATCHKEY__MFA__REQUIRE).");
        if (o.Mfa.FreshLoginWindow <= TimeSpan.Zero || o.Mfa.FreshLoginWindow > TimeSpan.FromHours(1))
            problems.Add($"Latchkey:Mfa:FreshLoginWindow {o.Mfa.FreshLoginWindow} is outside 00:00:01 to 01:00:00.");
        if (o.Passkeys.RelyingPartyId is { } rpId && Uri.TryCreate(o.Issuer, UriKind.Absolute, out Uri? issuerUri) &&
            !(issuerUri.Host.Equals(rpId, StringComparison.OrdinalIgnoreCase) || issuerUri.Host.EndsWith("." + rpId, StringComparison.OrdinalIgnoreCase)))
            problems.Add($"Latchkey:Passkeys:RelyingPartyId '{rpId}' is neither the issuer's host nor a domain it is under (WebAuthn §5.1.2).");
        foreach (string origin in o.Passkeys.Origins)
            if (!Uri.TryCreate(origin, UriKind.Absolute, out Uri? originUri) || originUri.Scheme is not ("https" or "http") ||
                originUri.GetLeftPart(UriPartial.Authority) != origin.TrimEnd('/'))
                problems.Add($"Latchkey:Passkeys:Origins '{origin}' is not an origin (scheme://host[:port]).");
        if (string.IsNullOrWhiteSpace(o.Branding.Name) || o.Branding.Name.Length > 64)
            problems.Add("Latchkey:Branding:Name must be 1 to 64 characters (default Latchkey).");

        LoginThrottleOptions t = o.LoginThrottle;
        if (t.FailureThreshold < 1 || t.UsernameFailureThreshold < 1 || t.AddressFailureThreshold < 1)
            problems.Add("Latchkey:LoginThrottle thresholds (FailureThreshold, UsernameFailureThreshold, AddressFailureThreshold) must be at least 1.");
        if (t.Lockout <= TimeSpan.Zero || t.MaxLockout < t.Lockout || t.UsernameWindow <= TimeSpan.Zero || t.AddressWindow <= TimeSpan.Zero ||
            t.KnownAddressLifetime < TimeSpan.Zero)
            problems.Add("Latchkey:LoginThrottle durations must be positive (KnownAddressLifetime may be 0), and MaxLockout at least Lockout.");

        problems.AddRange(CheckClientAddresses(o));

        if (o.PasswordHashing.MemoryKiB < 19 * 1024 || o.PasswordHashing.Iterations < 2)
            problems.Add($"Latchkey:PasswordHashing is below OWASP's Argon2id minimum (MemoryKiB 19456, Iterations 2): got {o.PasswordHashing.MemoryKiB} KiB, {o.PasswordHashing.Iterations}.");
        if (o.PasswordHashing.MaxConcurrency < 0 || o.PasswordHashing.MaxQueue < -1 || o.PasswordHashing.MaxWait < TimeSpan.Zero || o.PasswordHashing.MaxWait > TimeSpan.FromSeconds(30))
            problems.Add("Latchkey:PasswordHashing: MaxConcurrency must be 0 (one per core) or more, MaxQueue -1 (4 per slot) or more, MaxWait between 00:00:00 and 00:00:30.");
        if (o.Audit.Retention < TimeSpan.FromHours(1))
            problems.Add($"Latchkey:Audit:Retention {o.Audit.Retention} must be at least 01:00:00 (default 90.00:00:00).");
        problems.AddRange(Endpoints.MetricsListener.Problems(o.Metrics.Urls, listenUrls));

        return problems;
    }

    /// <summary>
    /// Several nodes on one database must share the master key, and it must never be in that database: so with
    /// PostgreSQL it comes from configuration on every node, never from a file one node made for itself.
    /// </summary>
    private static IEnumerable<string> CheckPostgres(LatchkeyOptions o)
    {
        if (!Storage.Postgres.PostgresConnectionString.IsPostgres(o.Database))
        {
            yield return "Latchkey:Database is neither a PostgreSQL connection string (Host=…;Database=…;Username=…) nor a postgres:// URL. " +
                         "Leave it empty for SQLite in the data folder.";
            yield break;
        }

        string? formatProblem = null;
        try
        {
            Storage.Postgres.PostgresConnectionString.Normalize(o.Database!);
        }
        catch (FormatException e)
        {
            formatProblem = $"Latchkey:Database is {e.Message}.";
        }

        if (formatProblem is not null)
            yield return formatProblem;
        if (string.IsNullOrWhiteSpace(o.MasterKey))
            yield return "Latchkey:MasterKey is required with PostgreSQL: every node needs the same one (it encrypts the signing keys and keys the hash of attempted usernames), and it never goes into the database. " +
                         "Generate one with `openssl rand -base64 32` and give it to every node as LATCHKEY__MASTERKEY.";
    }

    /// <summary>Trusted proxies, how far to walk their header, which header, and the rate limit that counts the addresses found.</summary>
    private static IEnumerable<string> CheckClientAddresses(LatchkeyOptions o)
    {
        for (int i = 0; i < o.TrustedProxies.Count; i++)
        {
            if (Endpoints.TrustedProxies.Parse(o.TrustedProxies[i]).Problem is { } problem)
                yield return $"Latchkey:TrustedProxies:{i} '{o.TrustedProxies[i]}' {problem}. List each proxy's address or network, e.g. LATCHKEY__TRUSTEDPROXIES__0=10.0.0.5.";
        }

        if (o.ForwardLimit is < 1 or > 20)
            yield return $"Latchkey:ForwardLimit {o.ForwardLimit} is outside 1 to 20: the number of proxies in the chain in front of Latchkey (default 1).";
        if (!o.ForwardedHeader.Equals(Endpoints.ForwardedFor.XForwardedForHeader, StringComparison.OrdinalIgnoreCase) &&
            !o.ForwardedHeader.Equals(Endpoints.ForwardedFor.ForwardedHeader, StringComparison.OrdinalIgnoreCase))
            yield return $"Latchkey:ForwardedHeader '{o.ForwardedHeader}' is neither X-Forwarded-For (the default) nor Forwarded (RFC 7239): use the one your proxy writes.";
        if (o.RateLimit.PermitsPerMinute < 0)
            yield return $"Latchkey:RateLimit:PermitsPerMinute {o.RateLimit.PermitsPerMinute} is negative. Use 0 to turn the limit off (default 6000).";
    }

    private static bool IsBase64Key(string text)
    {
        Span<byte> buffer = stackalloc byte[64];
        return Convert.TryFromBase64String(text.Trim(), buffer, out int written) && written == Keys.MasterKey.Length;
    }

    /// <summary>Creates the folder if needed and proves it is writable, so the problem shows now, not at the first login.</summary>
    private static string? CheckDataDirectory(string directory)
    {
        if (string.IsNullOrWhiteSpace(directory))
            return "Latchkey:DataDirectory is empty. Pass --data-dir DIR (LATCHKEY__DATADIRECTORY).";
        string full = Path.GetFullPath(directory);
        try
        {
            Directory.CreateDirectory(full);
            string probe = Path.Combine(full, $".write-test-{Environment.ProcessId}");
            File.WriteAllText(probe, "");
            File.Delete(probe);
            return null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return $"The data folder {full} cannot be written ({e.Message}). Choose another with --data-dir, or fix its permissions.";
        }
    }
}

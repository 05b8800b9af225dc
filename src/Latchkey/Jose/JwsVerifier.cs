namespace Latchkey.Jose;

/// <summary>
/// The one way a JWS is verified, for the <c>Jwt</c> facade and for Latchkey's own access tokens alike: parse strictly,
/// check the algorithm against the allow-list, pick the key, verify the signature, then the registered claims.
/// </summary>
internal static class JwsVerifier
{
    /// <summary>
    /// Clock skew tolerated between issuers and verifiers: the default of <see cref="JwtDecodeOptions.Leeway"/>, and what
    /// Latchkey allows its own tokens (and so how long past <c>exp</c> it must still remember anything about one).
    /// </summary>
    public static readonly TimeSpan Leeway = TimeSpan.FromSeconds(30);

    /// <summary>
    /// The shared validation path: parse strictly, check the algorithm against the allow-list, pick the key,
    /// verify the signature, then the registered claims. The caller disposes the result.
    /// </summary>
    public static ParsedJws ReadAndVerify(string token, Func<ParsedJws, JwsKey?> resolveKey, IEnumerable<string> algorithms,
        JwtDecodeOptions options, bool rejectEmbeddedKeys)
    {
        ArgumentNullException.ThrowIfNull(algorithms);
        var allowed = algorithms as IReadOnlyCollection<string> ?? algorithms.ToArray();
        if (allowed.Count == 0)
            throw new ArgumentException("Name the algorithms you accept, for example [\"HS256\"].", nameof(algorithms));

        ParsedJws jws = JwsReader.Read(token, options.MaxTokenLength, rejectEmbeddedKeys);
        try
        {
            if (!allowed.Contains(jws.Algorithm, StringComparer.Ordinal) || !JwtAlgorithms.IsSupported(jws.Algorithm))
                throw new JwtAlgorithmNotAllowedException(jws.Algorithm);

            JwsKey key = resolveKey(jws) ?? throw new JwtException(JwtFailure.UnknownKey, "No key is known for this token's 'kid'.");
            // The key's type, not the token, decides the algorithm family (RFC 8725 §3.1): an RSA or EC key
            // is never fed to HMAC, whatever 'alg' claims.
            if (!key.Supports(jws.Algorithm))
                throw new JwtAlgorithmNotAllowedException(jws.Algorithm);
            if (!key.Verify(jws.Algorithm, jws.SigningInput, jws.Signature))
                throw new JwtInvalidSignatureException();

            JwtClaimsValidator.Validate(jws.Claims, options);
            return jws;
        }
        catch
        {
            jws.Dispose();
            throw;
        }
    }

}

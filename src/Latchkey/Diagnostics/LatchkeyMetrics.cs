using System.Diagnostics.Metrics;

namespace Latchkey.Diagnostics;

/// <summary>
/// Every metric Latchkey records, on one <see cref="Meter"/> named <c>Latchkey</c>, exported at <c>/metrics</c> in the
/// Prometheus text format. Names are given as Prometheus will show them, minus the suffixes the OpenTelemetry exporter
/// adds: <c>_total</c> for counters and the unit (<c>_seconds</c>) for instruments with unit <c>s</c>. Tags are a small
/// closed set (grant types, algorithms, OAuth error codes), never a username, client id or address, so the number of
/// series stays bounded whatever callers send.
/// </summary>
public sealed class LatchkeyMetrics
{
    /// <summary>The name of the meter, for <c>AddMeter</c> in an app that exports metrics its own way.</summary>
    public const string MeterName = "Latchkey";

    // Token requests are dominated by Argon2id (tens to hundreds of ms); buckets from 5 ms to 10 s cover that with room.
    private static readonly IReadOnlyList<double> DurationBuckets = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

    private readonly Counter<long> _tokensIssued;
    private readonly Histogram<double> _tokenRequestDuration;
    private readonly Counter<long> _loginFailures;
    private readonly Counter<long> _throttledRequests;
    private readonly Counter<long> _refreshReuseDetected;

    /// <summary>
    /// The meter comes from the host's <see cref="IMeterFactory"/>, so it is disposed with the host, and two
    /// Latchkey instances in one process (tests, or an app hosting two) keep separate instruments.
    /// </summary>
    /// <param name="signingKeyCreatedAt">When the key that signs now was made (null: none yet, or an HMAC secret, whose age is unknown).</param>
    internal LatchkeyMetrics(IMeterFactory meters, Func<DateTimeOffset?> signingKeyCreatedAt, TimeProvider time)
    {
        Meter meter = meters.Create(MeterName);
        _tokensIssued = meter.CreateCounter<long>("latchkey_tokens_issued", description: "Access tokens issued, by grant type and signing algorithm.");
        _tokenRequestDuration = meter.CreateHistogram("latchkey_token_request_duration", unit: "s",
            description: "Time to answer POST /token, by grant type and outcome.",
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = DurationBuckets });
        _loginFailures = meter.CreateCounter<long>("latchkey_login_failures", description: "Password logins refused: unknown user, wrong password or disabled account.");
        _throttledRequests = meter.CreateCounter<long>("latchkey_throttled_requests", description: "Password logins refused unchecked because the username or address is throttled.");
        _refreshReuseDetected = meter.CreateCounter<long>("latchkey_refresh_reuse_detected", description: "Spent refresh tokens presented again; each revoked its whole family.");
        meter.CreateObservableGauge("latchkey_signing_key_age", () => SigningKeyAge(signingKeyCreatedAt(), time), unit: "s",
            description: "Age of the key that signs new tokens now; rotation brings it back down.");
    }

    internal void TokenIssued(string grantType, string algorithm) =>
        _tokensIssued.Add(1, new KeyValuePair<string, object?>("grant", grantType), new KeyValuePair<string, object?>("algorithm", algorithm));

    /// <param name="grantType">One of the supported grant types, or <c>unknown</c>: callers choose the string, so it is not a tag.</param>
    /// <param name="outcome"><c>success</c> or the OAuth error code.</param>
    internal void TokenRequestCompleted(TimeSpan duration, string grantType, string outcome) =>
        _tokenRequestDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("grant", grantType), new KeyValuePair<string, object?>("outcome", outcome));

    internal void LoginFailed() => _loginFailures.Add(1);

    internal void LoginThrottled() => _throttledRequests.Add(1);

    internal void RefreshReuseDetected() => _refreshReuseDetected.Add(1);

    private static IEnumerable<Measurement<double>> SigningKeyAge(DateTimeOffset? createdAt, TimeProvider time) =>
        createdAt is { } at ? [new Measurement<double>((time.GetUtcNow() - at).TotalSeconds)] : [];
}

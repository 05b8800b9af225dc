using System.Globalization;
using System.Net;
using Latchkey.Tests.Support;

namespace Latchkey.Tests.Endpoints;

/// <summary>
/// Runs alone: the Prometheus exporter listens to every meter named "Latchkey" in the process, so another test's
/// traffic at the same time would move these counters too.
/// </summary>
[CollectionDefinition(nameof(MetricsCollection), DisableParallelization = true)]
public sealed class MetricsCollection;

/// <summary><c>/metrics</c>: known traffic moves each counter by exactly its amount (deltas, so start-up noise is moot).</summary>
[Collection(nameof(MetricsCollection))]
public sealed class MetricsTests
{
    private const string Password = "metrics-Pa55word-correct";
    private const string WrongPassword = "metrics-Pa55word-wrong";

    [Fact]
    public async Task Metrics_AfterKnownTraffic_EachCounterMovesByItsAmount()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync(o =>
        {
            o.LoginThrottle.FailureThreshold = 2;
            o.RefreshTokens.ReuseWindow = TimeSpan.Zero;
        });
        await server.AddUserAsync("alice", Password);
        string secret = await server.AddClientAsync("svc", ["client_credentials"]);
        PrometheusText before = await ScrapeAsync(server);

        // 3 logins; 1 refresh, then the spent token again (reuse); 1 client_credentials; 2 failures, then 1 throttled.
        (_, string refresh) = await server.LoginAsync("alice", Password);
        await server.LoginAsync("alice", Password);
        await server.LoginAsync("alice", Password);
        await OAuthRequests.PairAsync(await server.RefreshAsync(refresh));
        using (HttpResponseMessage reuse = await server.RefreshAsync(refresh))
            await HttpAssert.OAuthErrorAsync(reuse, HttpStatusCode.BadRequest, "invalid_grant");
        using (HttpResponseMessage service = await server.PostFormAsync("/token", new Dictionary<string, string> { ["grant_type"] = "client_credentials" }, basic: ("svc", secret)))
            await HttpAssert.OkJsonAsync(service);
        for (int i = 0; i < 2; i++)
        {
            using HttpResponseMessage failed = await server.PostTokenAsync("alice", WrongPassword);
            await HttpAssert.OAuthErrorAsync(failed, HttpStatusCode.BadRequest, "invalid_grant");
        }

        using (HttpResponseMessage throttled = await server.PostTokenAsync("alice", Password))
            await HttpAssert.OAuthErrorAsync(throttled, HttpStatusCode.TooManyRequests, "slow_down");
        server.Time.Advance(TimeSpan.FromHours(1));
        PrometheusText after = await ScrapeAsync(server);

        double Delta(string name, params string[] labels) => after.Sum(name, labels) - before.Sum(name, labels);
        Assert.Equal(3, Delta("latchkey_tokens_issued_total", "grant=\"password\"", "algorithm=\"ES256\""));
        Assert.Equal(1, Delta("latchkey_tokens_issued_total", "grant=\"refresh_token\"", "algorithm=\"ES256\""));
        Assert.Equal(1, Delta("latchkey_tokens_issued_total", "grant=\"client_credentials\"", "algorithm=\"ES256\""));
        Assert.Equal(5, Delta("latchkey_tokens_issued_total"));
        Assert.Equal(2, Delta("latchkey_login_failures_total"));
        Assert.Equal(1, Delta("latchkey_throttled_requests_total"));
        Assert.Equal(1, Delta("latchkey_refresh_reuse_detected_total"));
        // Every POST /token is timed once: 3 + 2 refresh + 1 service + 2 failed + 1 throttled.
        Assert.Equal(9, Delta("latchkey_token_request_duration_seconds_count"));
        Assert.Equal(3, Delta("latchkey_token_request_duration_seconds_count", "grant=\"password\"", "outcome=\"success\""));
        Assert.Equal(2, Delta("latchkey_token_request_duration_seconds_count", "grant=\"password\"", "outcome=\"invalid_grant\""));
        Assert.Equal(1, Delta("latchkey_token_request_duration_seconds_count", "grant=\"password\"", "outcome=\"slow_down\""));
        Assert.Equal(1, Delta("latchkey_token_request_duration_seconds_count", "grant=\"refresh_token\"", "outcome=\"invalid_grant\""));
        Assert.Equal(9, Delta("latchkey_token_request_duration_seconds_bucket", "le=\"+Inf\""));
        // The key was made at start; the fake clock has moved an hour since.
        double age = after.Sum("latchkey_signing_key_age_seconds");
        Assert.InRange(age, 3600, 3600 + 60);
    }

    [Fact]
    public async Task Metrics_Scrape_IsPrometheusTextWithHelpAndType()
    {
        await using LatchkeyTestServer server = await LatchkeyTestServer.StartAsync();

        using HttpResponseMessage response = await server.Client.GetAsync("/metrics", TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/plain", response.Content.Headers.ContentType?.MediaType);
        string text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains("# TYPE latchkey_signing_key_age_seconds gauge", text);
        Assert.Contains("# HELP latchkey_signing_key_age_seconds ", text);
    }

    private static async Task<PrometheusText> ScrapeAsync(LatchkeyTestServer server)
    {
        using HttpResponseMessage response = await server.Client.GetAsync("/metrics", TestContext.Current.CancellationToken);
        string text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.StatusCode == HttpStatusCode.OK, text);
        return new PrometheusText(text);
    }

    /// <summary>The samples of a Prometheus text exposition: <c>name{label="v",…} value [timestamp]</c>, comments skipped.</summary>
    private sealed class PrometheusText(string text)
    {
        private readonly List<(string Name, string Labels, double Value)> _samples = Parse(text);

        public string Text { get; } = text;

        /// <summary>The sum over the series of <paramref name="name"/> that carry every one of <paramref name="labels"/>; 0 when none.</summary>
        public double Sum(string name, params string[] labels) =>
            _samples.Where(s => s.Name == name && labels.All(l => s.Labels.Contains(l, StringComparison.Ordinal))).Sum(s => s.Value);

        private static List<(string, string, double)> Parse(string text)
        {
            var samples = new List<(string, string, double)>();
            foreach (string line in text.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
            {
                if (line.StartsWith('#'))
                    continue;
                int brace = line.IndexOf('{');
                int end = brace >= 0 ? line.IndexOf('}', brace) + 1 : line.IndexOf(' ');
                string name = brace >= 0 ? line[..brace] : line[..end];
                string labels = brace >= 0 ? line[brace..end] : "";
                string value = line[end..].Trim().Split(' ')[0];
                samples.Add((name, labels, double.Parse(value, NumberStyles.Float, CultureInfo.InvariantCulture)));
            }

            return samples;
        }
    }
}

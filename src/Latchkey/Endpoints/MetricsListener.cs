using System.Net;

namespace Latchkey.Endpoints;

/// <summary>
/// The listen addresses of <see cref="MetricsOptions.Urls"/>, and whether a connection arrived on one of them. Decided by
/// the connection's local port (and local address, when the URL names one), never by the <c>Host</c> header, which the
/// client writes: a request to the public port cannot reach <c>/metrics</c> by claiming another host.
/// </summary>
internal sealed class MetricsListener
{
    private readonly ListenAddress[] _addresses;

    private MetricsListener(ListenAddress[] addresses) => _addresses = addresses;

    /// <summary>The endpoint metadata that marks <c>/metrics</c>: served on the metrics listener only, when there is one.</summary>
    public static readonly MetricsEndpointMetadata EndpointMetadata = new();

    /// <summary>The listener for <paramref name="urls"/> (';'-separated, like <c>--urls</c>); null when none is set or none parses.</summary>
    public static MetricsListener? Parse(string? urls)
    {
        ListenAddress[] addresses = [.. Split(urls).Select(ListenAddress.Parse).OfType<ListenAddress>()];
        return addresses.Length == 0 ? null : new MetricsListener(addresses);
    }

    /// <summary>Whether <paramref name="connection"/> arrived on one of the metrics addresses.</summary>
    public bool Accepts(ConnectionInfo connection) =>
        connection.LocalIpAddress is { } local && _addresses.Any(a => a.Accepts(local, connection.LocalPort));

    /// <summary>
    /// What is wrong with <paramref name="metricsUrls"/>: a URL that is not <c>http(s)://host:port</c> with a port of its own,
    /// or one that <paramref name="listenUrls"/> (the public <c>--urls</c>, when known) already listens on.
    /// </summary>
    public static IEnumerable<string> Problems(string? metricsUrls, string? listenUrls)
    {
        ListenAddress[] listening = [.. Split(listenUrls).Select(ListenAddress.Parse).OfType<ListenAddress>()];
        foreach (string url in Split(metricsUrls))
        {
            if (ListenAddress.Parse(url) is not { } metrics || metrics.Port == 0)
            {
                yield return $"Latchkey:Metrics:Urls '{url}' is not a listen URL with a port. Use scheme://host:port, e.g. http://127.0.0.1:9464 " +
                             "(LATCHKEY__METRICS__URLS; ';' between several).";
                continue;
            }

            if (listening.FirstOrDefault(metrics.Overlaps) is { } publicAddress)
                yield return $"Latchkey:Metrics:Urls '{url}' is also a public listen address ({publicAddress.Url}): /metrics needs a port of its own, " +
                             "e.g. http://127.0.0.1:9464.";
        }
    }

    private static IEnumerable<string> Split(string? urls) =>
        (urls ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The type of <see cref="EndpointMetadata"/>.</summary>
    internal sealed class MetricsEndpointMetadata;

    /// <summary>
    /// One listen URL as Kestrel binds it: a specific IP address; <c>localhost</c>, which is every loopback address; or any
    /// address (<c>*</c>, <c>+</c>, <c>0.0.0.0</c>, <c>[::]</c>, and any other host name, which Kestrel binds to all).
    /// </summary>
    private sealed record ListenAddress(string Url, int Port, IPAddress? Address, bool Loopback)
    {
        public static ListenAddress? Parse(string url)
        {
            if (!Uri.TryCreate(url.Replace("://*", "://0.0.0.0").Replace("://+", "://0.0.0.0"), UriKind.Absolute, out Uri? uri) ||
                uri.Scheme is not ("http" or "https") || uri.AbsolutePath != "/")
                return null;
            if (uri.IsLoopback && uri.HostNameType == UriHostNameType.Dns)
                return new ListenAddress(url, uri.Port, null, Loopback: true);
            return IPAddress.TryParse(uri.Host.Trim('[', ']'), out IPAddress? ip) && !ip.Equals(IPAddress.Any) && !ip.Equals(IPAddress.IPv6Any)
                ? new ListenAddress(url, uri.Port, Normalize(ip), Loopback: false)
                : new ListenAddress(url, uri.Port, null, Loopback: false);
        }

        public bool Accepts(IPAddress local, int port) =>
            port == Port && (Address is null ? !Loopback || IPAddress.IsLoopback(local) : Address.Equals(Normalize(local)));

        /// <summary>Whether a connection could arrive on both: the same port, and addresses that are not two different ones.</summary>
        public bool Overlaps(ListenAddress other) =>
            Port == other.Port && (Address, other.Address) switch
            {
                ({ } a, { } b) => a.Equals(b),
                ({ } a, null) => !other.Loopback || IPAddress.IsLoopback(a),
                (null, { } b) => !Loopback || IPAddress.IsLoopback(b),
                _ => true, // localhost or any address, on both sides
            };

        // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
        private static IPAddress Normalize(IPAddress ip) => ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : ip;
    }
}

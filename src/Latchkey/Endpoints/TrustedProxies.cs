using System.Net;
using System.Net.Sockets;
using Latchkey.Accounts;

namespace Latchkey.Endpoints;

/// <summary>
/// The reverse proxies whose forwarded headers are believed (<see cref="LatchkeyOptions.TrustedProxies"/>): addresses and
/// CIDR networks, IPv4 and IPv6. Anyone else can write any address into those headers, so from anyone else they are ignored.
/// </summary>
internal sealed class TrustedProxies
{
    private readonly IPNetwork[] _networks;

    private TrustedProxies(IPNetwork[] networks) => _networks = networks;

    /// <summary>The configured entries, or null when there are none (then nothing is forwarded, and no middleware is installed).</summary>
    public static TrustedProxies? From(IReadOnlyCollection<string> entries)
    {
        if (entries.Count == 0)
            return null;
        var networks = new IPNetwork[entries.Count];
        int i = 0;
        foreach (string entry in entries)
        {
            // The validator has refused every entry that does not parse, before anything starts.
            if (Parse(entry) is not { Network: { } network })
                throw new InvalidOperationException($"Latchkey:TrustedProxies entry '{entry}' was not validated.");
            networks[i++] = network;
        }

        return new TrustedProxies(networks);
    }

    /// <summary>Whether <paramref name="address"/> (already <see cref="ClientNetwork.Normalize"/>d) is one of the proxies.</summary>
    public bool Contains(IPAddress address)
    {
        foreach (IPNetwork network in _networks)
        {
            if (network.Contains(address))
                return true;
        }

        return false;
    }

    /// <summary>
    /// One entry: <c>10.0.0.5</c>, <c>10.0.0.0/8</c>, <c>2001:db8::7</c>, <c>2001:db8::/32</c>. Either the network, or
    /// why the text is not one (for the start-up validator). Addresses are read strictly (<see cref="ForwardedFor.TryParseAddress"/>):
    /// <see cref="IPAddress.TryParse(string, out IPAddress)"/> alone would take the typo <c>10.0.5</c> for 10.0.0.5.
    /// </summary>
    public static (IPNetwork? Network, string? Problem) Parse(string entry)
    {
        ReadOnlySpan<char> text = entry.AsSpan().Trim();
        int slash = text.IndexOf('/');
        ReadOnlySpan<char> addressText = slash < 0 ? text : text[..slash];
        if (!ForwardedFor.TryParseAddress(addressText, out IPAddress? address))
            return (null, "is not an IP address or CIDR network (e.g. 10.0.0.5, 10.0.0.0/8, 2001:db8::/32)");
        address = ClientNetwork.Normalize(address);
        int bits = address.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        if (slash < 0)
            return (new IPNetwork(address, bits), null);

        ReadOnlySpan<char> prefixText = text[(slash + 1)..];
        if (prefixText.Length is 0 or > 3 || !int.TryParse(prefixText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int prefix) || prefix > bits)
            return (null, $"has a prefix length that is not 0 to {bits}");
        // Every address would be a proxy, so every client could choose its own address again.
        if (prefix == 0)
            return (null, "trusts every address, so any client could claim any address; list only your proxies");
        IPAddress masked = Mask(address, prefix);
        if (!masked.Equals(address))
            return (null, $"has bits set past its prefix length: the network is {masked}/{prefix}");
        return (new IPNetwork(address, prefix), null);
    }

    private static IPAddress Mask(IPAddress address, int prefix)
    {
        byte[] bytes = address.GetAddressBytes();
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(prefix - i * 8, 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }
}

using System.Net;
using System.Net.Sockets;

namespace Latchkey.Accounts;

/// <summary>
/// The unit one client controls, for everything counted per address (the login throttle, the request rate limit):
/// an IPv4 address, or an IPv6 address's /64. A single IPv6 host is routinely given a whole /64 (RFC 6177, SLAAC), so
/// counting its addresses one by one would hand it 2^64 budgets.
/// </summary>
internal static class ClientNetwork
{
    /// <summary>An IPv4 client reached over a dual-stack socket (<c>::ffff:192.0.2.1</c>) is that IPv4 client.</summary>
    public static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    /// <summary>The network the address is counted under: itself for IPv4, its /64 (the rest zeroed) for IPv6.</summary>
    public static IPAddress Of(IPAddress address)
    {
        address = Normalize(address);
        if (address.AddressFamily != AddressFamily.InterNetworkV6)
            return address;
        Span<byte> bytes = stackalloc byte[16];
        address.TryWriteBytes(bytes, out _);
        bytes[8..].Clear();
        return new IPAddress(bytes);
    }

    /// <summary>The network as stored text: <c>192.0.2.1</c>, <c>2001:db8:1:2::/64</c>, or <c>unknown</c> without an address.</summary>
    public static string Key(IPAddress? address)
    {
        if (address is null)
            return "unknown";
        IPAddress network = Of(address);
        return network.AddressFamily == AddressFamily.InterNetworkV6 ? network + "/64" : network.ToString();
    }
}

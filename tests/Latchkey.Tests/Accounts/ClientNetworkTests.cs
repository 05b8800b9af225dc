using System.Net;
using Latchkey.Accounts;

namespace Latchkey.Tests.Accounts;

/// <summary>What one client is, for counting: an IPv4 address or an IPv6 /64.</summary>
public sealed class ClientNetworkTests
{
    [Theory]
    [InlineData("203.0.113.9", "203.0.113.9")]
    [InlineData("::ffff:203.0.113.9", "203.0.113.9")]
    [InlineData("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64")]
    [InlineData("2001:db8:1:2::ffff", "2001:db8:1:2::/64")]
    public void Key_Address_IsItsNetwork(string address, string key) =>
        Assert.Equal(key, ClientNetwork.Key(IPAddress.Parse(address)));

    [Fact]
    public void Key_NoAddress_IsUnknown() => Assert.Equal("unknown", ClientNetwork.Key(null));

    [Fact]
    public void Of_TwoAddressesOfOneIPv6Slash64_AreEqual() =>
        Assert.Equal(ClientNetwork.Of(IPAddress.Parse("2001:db8::1")), ClientNetwork.Of(IPAddress.Parse("2001:db8::ffff:2")));
}

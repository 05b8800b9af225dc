using System.Net;
using Latchkey.Endpoints;

namespace Latchkey.Tests.Endpoints;

/// <summary><see cref="LatchkeyOptions.TrustedProxies"/> entries: what parses, what the validator says otherwise, and what is then trusted.</summary>
public sealed class TrustedProxiesTests
{
    [Theory]
    [InlineData("10.0.0.5", "10.0.0.5/32")]
    [InlineData(" 10.0.0.5 ", "10.0.0.5/32")]
    [InlineData("10.0.0.0/8", "10.0.0.0/8")]
    [InlineData("192.0.2.128/25", "192.0.2.128/25")]
    [InlineData("2001:db8::7", "2001:db8::7/128")]
    [InlineData("2001:db8::/32", "2001:db8::/32")]
    [InlineData("::ffff:10.0.0.5", "10.0.0.5/32")]
    public void Entry_AddressOrNetwork_Parses(string entry, string network)
    {
        (IPNetwork? parsed, string? problem) = TrustedProxies.Parse(entry);

        Assert.Null(problem);
        Assert.Equal(network, parsed.ToString());
    }

    [Theory]
    [InlineData("proxy.internal", "is not an IP address or CIDR network")]
    [InlineData("10.0.5", "is not an IP address or CIDR network")]
    [InlineData("10.0.0.5:8080", "is not an IP address or CIDR network")]
    [InlineData("", "is not an IP address or CIDR network")]
    [InlineData("10.0.0.0/33", "prefix length that is not 0 to 32")]
    [InlineData("10.0.0.0/", "prefix length that is not 0 to 32")]
    [InlineData("2001:db8::/129", "prefix length that is not 0 to 128")]
    [InlineData("10.0.0.5/8", "the network is 10.0.0.0/8")]
    [InlineData("0.0.0.0/0", "trusts every address")]
    [InlineData("::/0", "trusts every address")]
    public void Entry_Wrong_SaysWhy(string entry, string why)
    {
        (IPNetwork? parsed, string? problem) = TrustedProxies.Parse(entry);

        Assert.Null(parsed);
        Assert.Contains(why, problem);
    }

    [Fact]
    public void Contains_AddressesAndNetworksOfBothFamilies_MatchesOnlyThose()
    {
        TrustedProxies proxies = TrustedProxies.From(["10.0.0.5", "192.168.0.0/16", "2001:db8::/32"])!;

        Assert.True(proxies.Contains(IPAddress.Parse("10.0.0.5")));
        Assert.False(proxies.Contains(IPAddress.Parse("10.0.0.6")));
        Assert.True(proxies.Contains(IPAddress.Parse("192.168.200.1")));
        Assert.True(proxies.Contains(IPAddress.Parse("2001:db8:1::9")));
        Assert.False(proxies.Contains(IPAddress.Parse("2001:db9::9")));
    }

    [Fact]
    public void From_NoEntries_IsNull() => Assert.Null(TrustedProxies.From([]));

    [Fact]
    public void Validator_BadProxyLimitHeaderAndRate_ListsEachWithItsFix()
    {
        var options = new LatchkeyOptions
        {
            Issuer = "http://latchkey.test",
            DataDirectory = Directory.CreateTempSubdirectory("latchkey-test-").FullName,
            TrustedProxies = ["10.0.0.5", "proxy.internal"],
            ForwardLimit = 0,
            ForwardedHeader = "X-Real-IP",
            RateLimit = { PermitsPerMinute = -1 },
        };

        try
        {
            List<string> problems = LatchkeyOptionsValidator.Problems(options);

            Assert.Equal(4, problems.Count);
            Assert.Contains("Latchkey:TrustedProxies:1 'proxy.internal' is not an IP address or CIDR network (e.g. 10.0.0.5, 10.0.0.0/8, 2001:db8::/32). " +
                            "List each proxy's address or network, e.g. LATCHKEY__TRUSTEDPROXIES__0=10.0.0.5.", problems);
            Assert.Contains(problems, p => p.StartsWith("Latchkey:ForwardLimit 0 is outside 1 to 20", StringComparison.Ordinal));
            Assert.Contains(problems, p => p.StartsWith("Latchkey:ForwardedHeader 'X-Real-IP' is neither X-Forwarded-For", StringComparison.Ordinal));
            Assert.Contains(problems, p => p.StartsWith("Latchkey:RateLimit:PermitsPerMinute -1 is negative", StringComparison.Ordinal));
        }
        finally
        {
            Directory.Delete(options.DataDirectory, recursive: true);
        }
    }

    [Fact]
    public void Options_Defaults_TrustNoProxyAndLimitSixThousandAMinute()
    {
        var options = new LatchkeyOptions();

        Assert.Empty(options.TrustedProxies);
        Assert.Equal(1, options.ForwardLimit);
        Assert.Equal("X-Forwarded-For", options.ForwardedHeader);
        Assert.Equal(6000, options.RateLimit.PermitsPerMinute);
    }
}

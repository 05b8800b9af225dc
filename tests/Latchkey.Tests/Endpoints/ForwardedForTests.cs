using System.Net;
using Latchkey.Endpoints;
using Microsoft.Extensions.Primitives;

namespace Latchkey.Tests.Endpoints;

/// <summary>
/// The forwarded-header walk, entry by entry, without a server: which entries are addresses, and where the walk stops.
/// The proxy in front is 10.0.0.1; 10.0.0.0/24 are trusted proxies; 203.0.113.x and 198.51.100.x are clients.
/// </summary>
public sealed class ForwardedForTests
{
    private static readonly IPAddress Proxy = IPAddress.Parse("10.0.0.1");
    private static readonly TrustedProxies Trusted = TrustedProxies.From(["10.0.0.0/24", "2001:db8:ffff::/48"])!;

    private static string Resolve(StringValues lines, int limit = 1, bool rfc7239 = false) =>
        ForwardedFor.Resolve(Proxy, lines, rfc7239, Trusted, limit).ToString();

    [Theory]
    [InlineData("203.0.113.9", "203.0.113.9")]
    [InlineData("203.0.113.9:5678", "203.0.113.9")]
    [InlineData("2001:db8::1", "2001:db8::1")]
    [InlineData("[2001:db8::1]", "2001:db8::1")]
    [InlineData("[2001:db8::1]:443", "2001:db8::1")]
    [InlineData("::ffff:203.0.113.9", "203.0.113.9")]
    [InlineData("[::ffff:203.0.113.9]:80", "203.0.113.9")]
    [InlineData("0.0.0.0", "0.0.0.0")]
    public void Node_Address_IsRead(string text, string expected)
    {
        Assert.True(ForwardedFor.TryParseNode(text, out IPAddress? address), text);
        Assert.Equal(expected, address.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("unknown")]
    [InlineData("_hidden")]
    [InlineData("garbage")]
    [InlineData("203.0.113")] // IPAddress.TryParse reads this as 203.0.0.113
    [InlineData("1")]
    [InlineData("0x7f.0.0.1")]
    [InlineData("010.0.0.1")] // octal to some parsers, decimal to others
    [InlineData("256.0.0.1")]
    [InlineData("203.0.113.9.1")]
    [InlineData("203.0.113.9:")]
    [InlineData("203.0.113.9:0")]
    [InlineData("203.0.113.9:65536")]
    [InlineData("203.0.113.9:http")]
    [InlineData("[2001:db8::1")]
    [InlineData("[2001:db8::1]443")]
    [InlineData("[203.0.113.9]")]
    [InlineData("fe80::1%eth0")]
    [InlineData("2001:db8::g")]
    [InlineData(" 203.0.113.9")]
    public void Node_NotAnAddress_IsRefused(string text) =>
        Assert.False(ForwardedFor.TryParseNode(text, out _), text);

    [Fact]
    public void Walk_OneEntryWithDefaultLimit_IsTheClient() =>
        Assert.Equal("203.0.113.9", Resolve("203.0.113.9"));

    [Fact]
    public void Walk_ClientPrependedFakeEntries_TakesOnlyTheProxysOwn() =>
        // The client sent "X-Forwarded-For: 198.51.100.1"; the proxy appended what it saw.
        Assert.Equal("203.0.113.9", Resolve("198.51.100.1, 203.0.113.9", limit: 5));

    [Fact]
    public void Walk_LimitOne_StopsAtTheFirstEntryEvenIfItIsAProxy() =>
        Assert.Equal("10.0.0.2", Resolve("203.0.113.9, 10.0.0.2"));

    [Fact]
    public void Walk_LimitTwoThroughTwoProxies_IsTheClient() =>
        Assert.Equal("203.0.113.9", Resolve("198.51.100.1, 203.0.113.9, 10.0.0.2", limit: 2));

    [Fact]
    public void Walk_LimitTwoButOnlyOneEntry_IsThatEntry() =>
        Assert.Equal("203.0.113.9", Resolve("203.0.113.9", limit: 2));

    [Fact]
    public void Walk_EntryIsNotAnAddress_KeepsTheAddressSoFar()
    {
        Assert.Equal("10.0.0.1", Resolve("203.0.113.9, unknown", limit: 3));
        Assert.Equal("10.0.0.2", Resolve("203.0.113.9, garbage, 10.0.0.2", limit: 3));
        Assert.Equal("10.0.0.1", Resolve("203.0.113.9, _obfuscated", limit: 3));
    }

    [Fact]
    public void Walk_SeveralHeaderLines_AreOneListInOrder()
    {
        Assert.Equal("203.0.113.9", Resolve(new StringValues(["198.51.100.1", "203.0.113.9, 10.0.0.2"]), limit: 2));
        Assert.Equal("203.0.113.9", Resolve(new StringValues(["198.51.100.1, 203.0.113.9", "10.0.0.2"]), limit: 2));
        Assert.Equal("198.51.100.1", Resolve(new StringValues(["198.51.100.1", "10.0.0.3", "10.0.0.2"]), limit: 3));
    }

    [Fact]
    public void Walk_EmptyEntriesAndSpaces_AreSkippedNotCounted() =>
        Assert.Equal("203.0.113.9", Resolve(new StringValues(["203.0.113.9 ,\t, 10.0.0.2,", ""]), limit: 2));

    [Fact]
    public void Walk_IPv6ProxyNetwork_IsTrusted() =>
        Assert.Equal("203.0.113.9", Resolve("203.0.113.9, [2001:db8:ffff:1::5]:8080", limit: 2));

    [Fact]
    public void Walk_NoEntries_IsThePeer() =>
        Assert.Equal("10.0.0.1", Resolve(new StringValues(["", " , "])));

    [Theory]
    [InlineData("for=203.0.113.9", "203.0.113.9")]
    [InlineData("For=203.0.113.9;proto=https;by=10.0.0.1", "203.0.113.9")]
    [InlineData("proto=https;for=\"203.0.113.9:4711\"", "203.0.113.9")]
    [InlineData("for=\"[2001:db8:cafe::17]:4711\"", "2001:db8:cafe::17")]
    [InlineData("for=\"[2001:db8:cafe::17]\"", "2001:db8:cafe::17")]
    [InlineData("for=\"\\[2001:db8:cafe::17\\]\"", "2001:db8:cafe::17")] // quoted-pair escapes (RFC 9110 §5.6.4)
    [InlineData("by=\"a;b\";for=203.0.113.9", "203.0.113.9")]
    public void ForwardedElement_ForParameter_IsRead(string element, string expected)
    {
        Assert.True(ForwardedFor.TryParseForwardedElement(element, out IPAddress? address), element);
        Assert.Equal(expected, address.ToString());
    }

    [Theory]
    [InlineData("proto=https")] // no for
    [InlineData("for=unknown")]
    [InlineData("for=_gazonk")]
    [InlineData("for=\"_gazonk\"")]
    [InlineData("for=203.0.113.9;for=198.51.100.1")] // a parameter at most once per element (RFC 7239 §4)
    [InlineData("for=\"203.0.113.9")]
    [InlineData("for=203.0.113.9\"")]
    [InlineData("for=")]
    [InlineData("for")]
    [InlineData("=203.0.113.9")]
    public void ForwardedElement_NoUsableFor_IsRefused(string element) =>
        Assert.False(ForwardedFor.TryParseForwardedElement(element, out _), element);

    [Fact]
    public void ForwardedWalk_QuotedIPv6WithPortBehindProxy_IsTheClient() =>
        Assert.Equal("2001:db8:cafe::17", Resolve("for=198.51.100.1, for=\"[2001:db8:cafe::17]:4711\";proto=https", limit: 1, rfc7239: true));

    [Fact]
    public void ForwardedWalk_CommaInsideQuotes_DoesNotSplitTheElement() =>
        // One element whose for is "203.0.113.9, 10.0.0.2": not an address, so the walk stops at the peer.
        Assert.Equal("10.0.0.1", Resolve("for=\"203.0.113.9, 10.0.0.2\"", limit: 2, rfc7239: true));

    [Fact]
    public void ForwardedWalk_ClientLineWithAnOpenQuote_DoesNotSwallowTheProxysLine() =>
        Assert.Equal("203.0.113.9", Resolve(new StringValues(["for=\"198.51.100.1", "for=203.0.113.9"]), limit: 2, rfc7239: true));

    [Fact]
    public void ForwardedWalk_ChainWithLimitTwo_IsTheClient() =>
        Assert.Equal("203.0.113.9", Resolve("for=198.51.100.1, for=203.0.113.9, for=10.0.0.2;by=10.0.0.1", limit: 2, rfc7239: true));

    [Fact]
    public void ForwardedWalk_ClientOpenQuoteOnTheLineAProxyAppendsTo_IsTheProxysElement()
    {
        // A proxy that appends its element to the client's own line (nginx: "$http_forwarded, for=$remote_addr"): the
        // client's stray quote must not swallow the proxy's element and make the client look like the proxy itself.
        TrustedProxies trusted = TrustedProxies.From(["10.0.0.0/24"])!;

        IPAddress client = ForwardedFor.Resolve(IPAddress.Parse("10.0.0.1"), new StringValues("for=\"x, for=203.0.113.9"), true, trusted, 1);

        Assert.Equal("203.0.113.9", client.ToString());
    }
}

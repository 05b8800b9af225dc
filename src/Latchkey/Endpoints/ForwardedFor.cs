using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Latchkey.Accounts;
using Microsoft.Extensions.Primitives;

namespace Latchkey.Endpoints;

/// <summary>
/// Who sent a request that came through trusted reverse proxies: the walk over <c>X-Forwarded-For</c> or <c>Forwarded</c>
/// (RFC 7239) entries. Pure: text in, an address out, so it is tested entry by entry.
/// <para>
/// Each proxy appends the address it was connected from, so the list reads oldest hop first, and only its right end is
/// written by machines we trust: everything left of the first untrusted hop was written by whoever that hop is, and
/// proves nothing. So the walk starts at the right, takes each entry as the new client address, and goes on only while
/// that address is itself a trusted proxy, at most <see cref="LatchkeyOptions.ForwardLimit"/> entries.
/// </para>
/// </summary>
internal static class ForwardedFor
{
    public const string XForwardedForHeader = "X-Forwarded-For";
    public const string ForwardedHeader = "Forwarded";

    /// <summary>
    /// The client address, given the TCP peer (a trusted proxy, already normalized) and every line of the configured
    /// header. Several lines are one comma-separated list (RFC 9110 §5.3); empty entries are skipped (§5.6.1). An entry
    /// that is not an address (garbage, <c>unknown</c>, an obfuscated RFC 7239 <c>_node</c>) ends the walk: the address
    /// resolved so far is the best one known.
    /// </summary>
    public static IPAddress Resolve(IPAddress peer, StringValues lines, bool rfc7239, TrustedProxies proxies, int limit)
    {
        IPAddress current = peer;
        int taken = 0;
        for (int line = lines.Count - 1; line >= 0; line--)
        {
            string? text = lines[line];
            if (string.IsNullOrEmpty(text))
                continue;
            if (rfc7239)
            {
                // A quoted string cannot span lines, so each line's elements are found on their own: a client's line with
                // a stray quote cannot swallow the proxy's own line after it. Within a line, elements are split from the
                // right, the end our proxies write: a stray quote in what the client wrote on the left cannot swallow the
                // element a proxy appended after it on the same line.
                foreach (Range element in ForwardedElementsFromTheRight(text))
                {
                    if (WalkEnds(text.AsSpan()[element]))
                        return current;
                }
            }
            else
            {
                ReadOnlySpan<char> rest = text;
                while (true)
                {
                    int comma = rest.LastIndexOf(',');
                    if (WalkEnds(rest[(comma + 1)..]))
                        return current;
                    if (comma < 0)
                        break;
                    rest = rest[..comma];
                }
            }
        }

        return current;

        // Takes one entry; true when the walk stops here.
        bool WalkEnds(ReadOnlySpan<char> entry)
        {
            entry = entry.Trim(" \t");
            if (entry.IsEmpty)
                return false;
            IPAddress? address;
            if (!(rfc7239 ? TryParseForwardedElement(entry, out address) : TryParseNode(entry, out address)))
                return true;
            current = address;
            return ++taken == limit || !proxies.Contains(current);
        }
    }

    /// <summary>
    /// One node: an IPv4 address, optionally with a port (<c>192.0.2.1:5678</c>); an IPv6 address, bare or in brackets,
    /// optionally with a port after the brackets (<c>[2001:db8::1]:443</c>). Anything else is not an address.
    /// </summary>
    public static bool TryParseNode(ReadOnlySpan<char> text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']');
            if (close < 0 || !IsPortSuffix(text[(close + 1)..]))
                return false;
            text = text[1..close];
            if (text.IndexOf(':') < 0)
                return false;
        }
        else if (text.IndexOf('.') >= 0 && text.IndexOf(':') is var colon and >= 0 && text.LastIndexOf(':') == colon)
        {
            // One colon after a dotted quad is a port; an IPv6 address has at least two (::ffff:192.0.2.1).
            if (!IsPortSuffix(text[colon..]))
                return false;
            text = text[..colon];
        }

        if (!TryParseAddress(text, out IPAddress? parsed))
            return false;
        address = ClientNetwork.Normalize(parsed);
        return true;
    }

    /// <summary>
    /// A literal IPv4 (four decimal parts, no leading zeros) or IPv6 address, and nothing else. <see cref="IPAddress.TryParse(ReadOnlySpan{char}, out IPAddress)"/>
    /// alone also takes <c>1</c>, <c>10.1</c>, <c>0x7f.1</c> and octal <c>010.0.0.1</c>, forms no proxy writes and no
    /// operator means.
    /// </summary>
    public static bool TryParseAddress(ReadOnlySpan<char> text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        if (text.IndexOf(':') >= 0)
        {
            // Hex digits, colons and an embedded dotted quad; no zone (%eth0), which means nothing off the host.
            foreach (char c in text)
            {
                if (!char.IsAsciiHexDigit(c) && c is not ':' and not '.')
                    return false;
            }

            return IPAddress.TryParse(text, out address) && address.AddressFamily == AddressFamily.InterNetworkV6;
        }

        Span<byte> bytes = stackalloc byte[4];
        int part = 0;
        foreach (Range range in text.Split('.'))
        {
            ReadOnlySpan<char> digits = text[range];
            if (part == 4 || digits.Length is 0 or > 3 || (digits.Length > 1 && digits[0] == '0') ||
                !int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value > 255)
                return false;
            bytes[part++] = (byte)value;
        }

        if (part != 4)
            return false;
        address = new IPAddress(bytes);
        return true;
    }

    /// <summary>Nothing, or <c>:</c> and a port (1 to 65535).</summary>
    private static bool IsPortSuffix(ReadOnlySpan<char> text) =>
        text.IsEmpty ||
        (text[0] == ':' && text.Length is >= 2 and <= 6 &&
         int.TryParse(text[1..], NumberStyles.None, CultureInfo.InvariantCulture, out int port) && port is >= 1 and <= 65535);

    /// <summary>
    /// The elements of one <c>Forwarded</c> line (RFC 7239 §4), rightmost first: split at commas outside quoted strings,
    /// reading from the right. The right end is what trusted proxies wrote, well formed; an unterminated quote can only be
    /// further left, in what a client wrote, and makes the leftmost element run to the start of the line, where it fails
    /// to parse and ends the walk after the proxies' own elements.
    /// </summary>
    private static List<Range> ForwardedElementsFromTheRight(string line)
    {
        var elements = new List<Range>();
        int end = line.Length;
        bool quoted = false;
        for (int i = line.Length - 1; i >= 0; i--)
        {
            char c = line[i];
            if (c == '"' && !(i > 0 && line[i - 1] == '\\'))
            {
                quoted = !quoted;
            }
            else if (c == ',' && !quoted)
            {
                elements.Add((i + 1)..end);
                end = i;
            }
        }

        elements.Add(0..end);
        return elements;
    }

    /// <summary>
    /// The <c>for</c> parameter of one <c>Forwarded</c> element (RFC 7239 §5.2): <c>for=192.0.2.60;proto=https</c>,
    /// <c>for="[2001:db8:cafe::17]:4711"</c>. An element without it, with it twice (§4: a parameter occurs at most once
    /// per element), or with a malformed pair is not an address.
    /// </summary>
    public static bool TryParseForwardedElement(ReadOnlySpan<char> element, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out IPAddress? address)
    {
        address = null;
        Span<char> value = stackalloc char[64];
        int valueLength = -1;
        int i = 0;
        while (i <= element.Length)
        {
            // One pair: token "=" ( token / quoted-string ), up to the next ';' or the end.
            int end = i;
            bool quoted = false;
            while (end < element.Length && (quoted || element[end] != ';'))
            {
                if (quoted && element[end] == '\\')
                    end++;
                else if (element[end] == '"')
                    quoted = !quoted;
                end++;
            }

            if (quoted || end > element.Length)
                return false;
            ReadOnlySpan<char> pair = element[i..end].Trim(" \t");
            i = end + 1;
            if (pair.IsEmpty)
                continue;
            int equals = pair.IndexOf('=');
            if (equals <= 0)
                return false;
            if (!pair[..equals].Equals("for", StringComparison.OrdinalIgnoreCase))
                continue;
            if (valueLength >= 0 || !TryReadValue(pair[(equals + 1)..], value, out valueLength))
                return false;
        }

        return valueLength >= 0 && TryParseNode(value[..valueLength], out address);
    }

    /// <summary>A token as it is, or a quoted string without its quotes and escapes (RFC 9110 §5.6.4), into <paramref name="buffer"/>.</summary>
    private static bool TryReadValue(ReadOnlySpan<char> text, Span<char> buffer, out int length)
    {
        length = 0;
        if (text.IsEmpty)
            return false;
        if (text[0] != '"')
        {
            if (text.Length > buffer.Length || text.IndexOf('"') >= 0)
                return false;
            text.CopyTo(buffer);
            length = text.Length;
            return true;
        }

        if (text.Length < 2 || text[^1] != '"')
            return false;
        for (int i = 1; i < text.Length - 1; i++)
        {
            char c = text[i];
            if (c == '\\')
            {
                if (++i == text.Length - 1)
                    return false;
                c = text[i];
            }
            else if (c == '"')
            {
                return false;
            }

            if (length == buffer.Length)
                return false;
            buffer[length++] = c;
        }

        return true;
    }
}

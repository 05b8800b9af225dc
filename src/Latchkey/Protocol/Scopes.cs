namespace Latchkey.Protocol;

/// <summary>Scope values (RFC 6749 §3.3): <c>scope-token = 1*( %x21 / %x23-5B / %x5D-7E )</c>.</summary>
public static class Scopes
{
    public static bool IsValid(string scope) =>
        scope.Length is > 0 and <= 128 && scope.All(c => c is '!' or (>= '#' and <= '[') or (>= ']' and <= '~'));

    /// <summary>Splits a scope parameter; null when it holds anything but valid scope tokens separated by single spaces.</summary>
    public static IReadOnlyList<string>? Parse(string? scope)
    {
        if (scope is null)
            return [];
        string[] values = scope.Split(' ');
        return values.All(IsValid) ? values.Distinct(StringComparer.Ordinal).ToArray() : null;
    }
}

using Latchkey.Diagnostics;

namespace Latchkey.Tests;

/// <summary>What <see cref="LogText.Escape"/> does to a value before it reaches a log line or an audit row.</summary>
public sealed class LogTextTests
{
    [Theory]
    [InlineData("alice", "alice")]
    [InlineData("", "")]
    [InlineData("Zoë 日本 🔑 DOMAIN\\user", "Zoë 日本 🔑 DOMAIN\\user")]
    [InlineData("a\nb", "a\\nb")]
    [InlineData("a\r\nb", "a\\r\\nb")]
    [InlineData("tab\there", "tab\\there")]
    [InlineData("\u001B[2Jcleared", "\\u001B[2Jcleared")]
    [InlineData("nul\0 del\u007F nel\u0085", "nul\\u0000 del\\u007F nel\\u0085")]
    [InlineData("line\u2028para\u2029", "line\\u2028para\\u2029")]
    [InlineData("admin\u202Enimda", "admin\\u202Enimda")]
    public void Escape_ControlCharactersAndLineBreaks_BecomeVisibleEscapesAndTheRestIsKept(string value, string expected) =>
        Assert.Equal(expected, LogText.Escape(value));

    [Fact]
    public void Escape_CleanValueWithinTheCap_IsTheSameInstance()
    {
        string value = new('x', LogText.MaxLength);

        Assert.Same(value, LogText.Escape(value));
        Assert.Null(LogText.Escape(null));
    }

    [Fact]
    public void Escape_OneCharacterOverTheCap_IsCutToTheCapWithAnEllipsis()
    {
        string escaped = LogText.Escape(new string('x', LogText.MaxLength + 1));

        Assert.Equal(new string('x', LogText.MaxLength) + "…", escaped);
    }

    [Fact]
    public void Escape_EscapesThatWouldCrossTheCap_AreNotCutInHalf()
    {
        // 198 characters, then a newline whose escape (2 characters) still fits, then an ESC whose escape (6) would not.
        string escaped = LogText.Escape(new string('x', LogText.MaxLength - 2) + "\n\u001B" + "tail");

        Assert.Equal(new string('x', LogText.MaxLength - 2) + "\\n…", escaped);
    }

    [Fact]
    public void Escape_ASurrogatePairAtTheCap_IsNotSplit()
    {
        string escaped = LogText.Escape(new string('x', LogText.MaxLength - 1) + "🔑🔑");

        Assert.Equal(new string('x', LogText.MaxLength - 1) + "…", escaped);
    }

    [Fact]
    public void Escape_AMegabyteOfNewlines_StaysWithinTheCap()
    {
        string escaped = LogText.Escape(new string('\n', 1 << 20));

        Assert.Equal(LogText.MaxLength + 1, escaped.Length);
        Assert.DoesNotContain('\n', escaped);
        Assert.EndsWith("…", escaped);
    }

    [Fact]
    public void Escape_AnAlreadyEscapedValue_IsUnchanged()
    {
        // The audit trail escapes an event's fields, and its log line escapes them again: the two must agree.
        foreach (string value in new[] { "a\nb\u001B", new string('\n', 150), new string('x', 500) })
        {
            string once = LogText.Escape(value);

            Assert.Equal(once, LogText.Escape(once));
        }
    }
}
